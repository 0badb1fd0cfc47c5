"""Data drift between a reference table and a current one: PSI and two-sample KS.

Population stability index (PSI), per feature::

    PSI = sum over bins b of (c_b - r_b) * ln(c_b / r_b)

where ``r_b`` and ``c_b`` are the fractions of reference and current rows in bin ``b``.

* Numeric features: ``bins`` quantile bins of the *reference* (cut points at its
  ``1/bins, 2/bins, ...`` quantiles, numpy's default linear interpolation), right-closed,
  the outer two open-ended so current values outside the reference range are counted.
  Tied cut points (discrete data) are merged, so there may be fewer bins.
* Categorical features (strings, booleans, or any non-numeric type): one bin per category
  seen in either table.
* Missing values (null, NaN) get a bin of their own, so a change in missingness is drift.
* A fraction of zero is replaced by :data:`EPSILON` (``1e-4``) before taking logs, the
  usual convention; without it a category new in the current table gives an infinite PSI.

Common reading: below 0.1 no significant shift, 0.1-0.25 moderate, above 0.25 large.

The two-sample Kolmogorov-Smirnov statistic and p-value (numeric features, missing values
left out) are :func:`scipy.stats.ks_2samp`'s, two-sided, ``method="auto"`` (exact p-value for
small samples; scipy switches to the asymptotic one, silently here, where exact fails).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ordinance.errors import InputError
from ordinance.metrics._table import TableSource, column_names, read_table, source_name

__all__ = [
    "EPSILON",
    "STATISTICS",
    "Bin",
    "DriftReport",
    "FeatureDrift",
    "compute_drift",
    "population_stability_index",
]

EPSILON = 1e-4
MISSING_BIN = "<missing>"
#: The statistics a policy rule may threshold.
STATISTICS: tuple[str, ...] = ("psi", "ks_statistic", "ks_pvalue")
Statistic = Literal["psi", "ks_statistic", "ks_pvalue"]
_F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bin:
    """One PSI bin: its label and the row counts and fractions on each side."""

    label: str
    reference_count: int
    current_count: int
    reference: float
    current: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "reference": self.reference,
            "current": self.current,
        }


@dataclass(frozen=True)
class FeatureDrift:
    """Drift statistics of one feature; the KS fields are ``None`` for categorical ones."""

    name: str
    kind: Literal["numeric", "categorical"]
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    n_reference: int
    n_current: int
    missing_reference: int
    missing_current: int
    bins: tuple[Bin, ...]

    def value(self, statistic: Statistic) -> float | None:
        """One statistic by name (see :data:`STATISTICS`)."""
        if statistic not in STATISTICS:
            raise InputError(f"unknown drift statistic {statistic!r}: one of {STATISTICS}")
        result: float | None = getattr(self, statistic)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "psi": self.psi,
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "bins": [b.to_dict() for b in self.bins],
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of every compared feature, in the reference table's column order."""

    features: tuple[FeatureDrift, ...]
    bins: int
    epsilon: float

    def feature(self, name: str) -> FeatureDrift:
        """One feature's statistics; :class:`InputError` if it was not compared."""
        for f in self.features:
            if f.name == name:
                return f
        raise InputError(f"no drift statistics for feature {name!r}")

    def worst(self, statistic: Statistic = "psi") -> FeatureDrift | None:
        """The feature with the most drift by ``statistic`` (smallest p-value for ks_pvalue)."""
        scored = [f for f in self.features if f.value(statistic) is not None]
        if not scored:
            return None
        sign = -1.0 if statistic == "ks_pvalue" else 1.0
        return max(scored, key=lambda f: sign * (f.value(statistic) or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bins": self.bins,
            "epsilon": self.epsilon,
            "features": [f.to_dict() for f in self.features],
        }


def population_stability_index(
    reference: Sequence[float] | _F64, current: Sequence[float] | _F64, epsilon: float = EPSILON
) -> float:
    """PSI of two fraction vectors over the same bins (zero fractions become ``epsilon``)."""
    r = np.maximum(np.asarray(reference, dtype=np.float64), epsilon)
    c = np.maximum(np.asarray(current, dtype=np.float64), epsilon)
    if r.shape != c.shape:
        raise InputError("reference and current fractions must have the same bins")
    return float(np.sum((c - r) * np.log(c / r)))


def compute_drift(
    reference: TableSource,
    current: TableSource,
    *,
    features: Sequence[str] | None = None,
    bins: int = 10,
    epsilon: float = EPSILON,
) -> DriftReport:
    """PSI (and, for numeric features, KS) of each feature, ``current`` against ``reference``.

    ``features`` defaults to every column the two tables share. Raises
    :class:`~ordinance.errors.InputError` for a missing file or column, or an empty table.
    """
    if bins < 2:
        raise InputError(f"drift needs at least 2 bins, not {bins}")
    if features is None:
        shared = set(column_names(current))
        features = [c for c in column_names(reference) if c in shared]
        if not features:
            raise InputError(
                f"{source_name(current)} shares no column with {source_name(reference)}"
            )
    ref = read_table(reference, list(features))
    cur = read_table(current, list(features))
    for table, source in ((ref, reference), (cur, current)):
        if table.num_rows == 0:
            raise InputError(f"{source_name(source)}: the table has no rows")
    return DriftReport(
        features=tuple(
            _feature_drift(name, ref.column(name), cur.column(name), bins, epsilon)
            for name in dict.fromkeys(features)
        ),
        bins=bins,
        epsilon=epsilon,
    )


def _is_numeric(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ))


def _feature_drift(
    name: str, ref: pa.ChunkedArray, cur: pa.ChunkedArray, bins: int, epsilon: float
) -> FeatureDrift:
    if _is_numeric(ref.type) and _is_numeric(cur.type):
        return _numeric_drift(name, _floats(ref), _floats(cur), bins, epsilon)
    return _categorical_drift(name, ref, cur, epsilon)


def _floats(column: pa.ChunkedArray) -> _F64:
    """Values as float64 with NaN for missing."""
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _numeric_drift(name: str, ref: _F64, cur: _F64, bins: int, epsilon: float) -> FeatureDrift:
    from scipy.stats import ks_2samp

    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    labels: list[str] = []
    r_counts: list[int] = []
    c_counts: list[int] = []
    if r.size:
        cuts = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)[1:-1]))
        bounds = [-math.inf, *cuts.tolist(), math.inf]
        labels = [f"({lo:.6g}, {hi:.6g}]" for lo, hi in itertools.pairwise(bounds)]
        r_counts = np.bincount(np.searchsorted(cuts, r), minlength=len(labels)).tolist()
        c_counts = np.bincount(np.searchsorted(cuts, c), minlength=len(labels)).tolist()
    elif c.size:
        labels, r_counts, c_counts = ["(-inf, inf]"], [0], [int(c.size)]
    missing_r, missing_c = int(ref.size - r.size), int(cur.size - c.size)
    ks_stat = ks_p = None
    if r.size and c.size:
        with warnings.catch_warnings():
            # scipy falls back from the exact p-value to the asymptotic one and says so
            warnings.simplefilter("ignore", RuntimeWarning)
            res = ks_2samp(r, c)
        ks_stat, ks_p = float(res.statistic), float(res.pvalue)
    return _finish(
        name, "numeric", labels, r_counts, c_counts, missing_r, missing_c, epsilon, ks_stat, ks_p
    )


def _value_counts(column: pa.ChunkedArray) -> tuple[dict[str, int], int]:
    """Counts per category (as text) and the number of missing values."""
    counts: dict[str, int] = {}
    for item in pc.value_counts(column).to_pylist():
        value, n = item["values"], int(item["counts"])
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        key = str(value)
        counts[key] = counts.get(key, 0) + n
    return counts, len(column) - sum(counts.values())


def _categorical_drift(
    name: str, ref: pa.ChunkedArray, cur: pa.ChunkedArray, epsilon: float
) -> FeatureDrift:
    r, missing_r = _value_counts(ref)
    c, missing_c = _value_counts(cur)
    labels = sorted(set(r) | set(c))
    return _finish(
        name,
        "categorical",
        labels,
        [r.get(k, 0) for k in labels],
        [c.get(k, 0) for k in labels],
        missing_r,
        missing_c,
        epsilon,
        None,
        None,
    )


def _finish(
    name: str,
    kind: Literal["numeric", "categorical"],
    labels: list[str],
    r_counts: list[int],
    c_counts: list[int],
    missing_r: int,
    missing_c: int,
    epsilon: float,
    ks_stat: float | None,
    ks_p: float | None,
) -> FeatureDrift:
    if missing_r or missing_c:
        labels = [*labels, MISSING_BIN]
        r_counts = [*r_counts, missing_r]
        c_counts = [*c_counts, missing_c]
    n_r, n_c = sum(r_counts), sum(c_counts)
    r_frac = np.asarray(r_counts, dtype=np.float64) / n_r
    c_frac = np.asarray(c_counts, dtype=np.float64) / n_c
    return FeatureDrift(
        name=name,
        kind=kind,
        psi=population_stability_index(r_frac, c_frac, epsilon),
        ks_statistic=ks_stat,
        ks_pvalue=ks_p,
        n_reference=n_r,
        n_current=n_c,
        missing_reference=missing_r,
        missing_current=missing_c,
        bins=tuple(
            Bin(label, int(rc), int(cc), float(rf), float(cf))
            for label, rc, cc, rf, cf in zip(
                labels, r_counts, c_counts, r_frac, c_frac, strict=True
            )
        ),
    )

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
* The fraction of an **empty** bin is replaced by :data:`EPSILON` (``1e-4``) before taking
  logs, the usual convention; without it a category new in the current table gives an
  infinite PSI. Non-empty bins keep their fraction, however small.

Which features, and of which kind:

* ``features`` defaults to the columns both tables share, minus identifiers (a column named
  ``id`` or ``*_id``, or an integer or text column whose reference values are all distinct,
  with at least 50 rows) and the ``exclude`` columns (the label, say); the report lists what
  was left out and why.
* A feature is numeric when its type is numeric in both tables. CSV text is typed per
  column over *both* tables: numeric if every non-missing value is a number. A column that
  mixes numbers and text (one stray ``"abc"`` among ages) is an input error naming the table,
  column and row — unless the feature is listed in ``categorical``, which compares any
  column by category. Only empty CSV cells are missing unless ``na_values`` says otherwise.
* An infinite value in the reference of a numeric feature is an input error (quantile cut
  points would be undefined); in the current table it counts in the open-ended outer bin.

Common reading: below 0.1 no significant shift, 0.1-0.25 moderate, above 0.25 large.

The two-sample Kolmogorov-Smirnov statistic and p-value (numeric features, missing values
left out) are :func:`scipy.stats.ks_2samp`'s, two-sided, ``method="auto"`` (exact p-value for
small samples; scipy switches to the asymptotic one, silently here, where exact fails).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ordinance.errors import InputError
from ordinance.metrics._table import (
    NA_VALUES,
    TableSource,
    column_names,
    duplicated,
    is_csv,
    read_table,
    source_name,
)

if TYPE_CHECKING:
    from ordinance.metrics._sql import SqlTable

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
    #: shared columns not compared, with the reason (identifier, excluded, duplicated)
    excluded: Mapping[str, str] = field(default_factory=dict)

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
            "excluded": dict(self.excluded),
            "features": [f.to_dict() for f in self.features],
        }


def population_stability_index(
    reference: Sequence[float] | _F64, current: Sequence[float] | _F64, epsilon: float = EPSILON
) -> float:
    """PSI of two fraction vectors over the same bins (empty bins count as ``epsilon``)."""
    r = np.asarray(reference, dtype=np.float64)
    c = np.asarray(current, dtype=np.float64)
    if r.shape != c.shape:
        raise InputError("reference and current fractions must have the same bins")
    r = np.where(r == 0, epsilon, r)
    c = np.where(c == 0, epsilon, c)
    return float(np.sum((c - r) * np.log(c / r)))


def compute_drift(
    reference: TableSource,
    current: TableSource | SqlTable,
    *,
    features: Sequence[str] | None = None,
    bins: int = 10,
    epsilon: float = EPSILON,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    na_values: Sequence[str] = NA_VALUES,
) -> DriftReport:
    """PSI (and, for numeric features, KS) of each feature, ``current`` against ``reference``.

    ``features`` defaults to every column the two tables share except identifiers and
    ``exclude``; ``categorical`` features are compared by category whatever their type.
    ``current`` may be a :class:`~ordinance.metrics.SqlTable`: its histogram counts are then
    computed by the database in one aggregate query (PSI only: KS needs the rows). Raises
    :class:`~ordinance.errors.InputError` for a missing file or column, an empty table, a
    column mixing numbers and text, or an infinite reference value.
    """
    from ordinance.metrics._sql import SqlTable

    if bins < 2:
        raise InputError(f"drift needs at least 2 bins, not {bins}")
    ref_names = column_names(reference)
    if isinstance(current, SqlTable):
        from ordinance.metrics._sql import column_names as sql_columns

        cur_names = sql_columns(current)
    else:
        cur_names = column_names(current)
    excluded: dict[str, str] = {}
    default = features is None
    if features is None:
        shared = set(cur_names)
        candidates = [c for c in dict.fromkeys(ref_names) if c in shared]
        if not candidates:
            raise InputError(f"{_name(current)} shares no column with {source_name(reference)}")
        twice = duplicated(ref_names) | duplicated(cur_names)
        for c in candidates:
            if c in exclude:
                excluded[c] = "excluded"
            elif c in twice:
                excluded[c] = "name appears twice"
        features = [c for c in candidates if c not in excluded]
    features = list(dict.fromkeys(features))
    ref = _read(reference, features, na_values)
    if ref.num_rows == 0:
        raise InputError(f"{source_name(reference)}: the table has no rows")
    cur = None if isinstance(current, SqlTable) else _read(current, features, na_values)
    if cur is not None and cur.num_rows == 0:
        raise InputError(f"{source_name(current)}: the table has no rows")
    ref_cols, cur_cols = _typed_columns(ref, cur, features, categorical, reference, current)
    if default:
        for f in features:
            why = _identifier(f, ref.column(f))
            if why:
                excluded[f] = why
        features = [f for f in features if f not in excluded]
    if not features:
        raise InputError(f"{source_name(reference)}: no feature left to compare")
    kinds = {
        f: "categorical" if f in categorical or not _is_numeric(ref_cols[f].type) else "numeric"
        for f in features
    }
    if isinstance(current, SqlTable):
        result = _sql_drift(ref_cols, current, features, kinds, bins, epsilon, reference)
    else:
        result = tuple(
            _feature_drift(f, kinds[f], ref_cols[f], cur_cols[f], bins, epsilon, reference)
            for f in features
        )
    return DriftReport(features=result, bins=bins, epsilon=epsilon, excluded=excluded)


def _name(source: TableSource | SqlTable) -> str:
    from ordinance.metrics._sql import SqlTable

    return source.name if isinstance(source, SqlTable) else source_name(source)


def _read(source: TableSource, features: list[str], na_values: Sequence[str]) -> pa.Table:
    """The features; CSV columns as text, typed afterwards over both tables."""
    types = dict.fromkeys(features, pa.string()) if is_csv(source) else None
    return read_table(source, features, types=types, na_values=na_values)


_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:[iI]nf|INF|[iI]nfinity)$"


def _text_is_number(column: pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    """Per row: is the value a number (nulls count as numbers: they are missing)."""
    hits = pc.match_substring_regex(column, _NUMBER)
    return np.asarray(pc.fill_null(hits, True).to_numpy(zero_copy_only=False), dtype=bool)


def _typed_columns(
    ref: pa.Table,
    cur: pa.Table | None,
    features: list[str],
    categorical: Sequence[str],
    reference: TableSource,
    current: TableSource | SqlTable,
) -> tuple[dict[str, pa.ChunkedArray], dict[str, pa.ChunkedArray]]:
    """Type CSV text: a feature is numeric if every value in the CSV table(s) is a number."""
    tables = [(ref, reference, source_name(reference))]
    if cur is not None:
        tables.append((cur, current, _name(current)))
    out: list[dict[str, pa.ChunkedArray]] = [{}, {}]
    for f in features:
        texts = [
            (i, t.column(f), nm)
            for i, (t, src, nm) in enumerate(tables)
            if is_csv(src) and pa.types.is_string(t.column(f).type)
        ]
        for i, (t, _, _) in enumerate(tables):
            out[i][f] = t.column(f)
        if f in categorical or not texts:
            continue
        others_numeric = [
            _is_numeric(t.column(f).type)
            for i, (t, _, _) in enumerate(tables)
            if i not in {j for j, _, _ in texts}
        ]
        numbers = {i: _text_is_number(col) for i, col, _ in texts}
        all_numbers = {i: bool(m.all()) for i, m in numbers.items()}
        any_numbers = {
            i: bool((m & ~np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False))).any())
            for (i, col, _), m in zip(texts, numbers.values(), strict=True)
        }
        if all(all_numbers.values()) and all(others_numeric):
            for i, col, _ in texts:
                out[i][f] = col.cast(pa.float64())
            continue
        numeric_somewhere = any(any_numbers.values()) or any(others_numeric)
        if not numeric_somewhere:
            continue
        for i, col, nm in texts:
            if not all_numbers[i]:
                row = int(np.flatnonzero(~numbers[i])[0])
                value = col[row].as_py()
                raise InputError(
                    f"{nm}: column {f!r} row {row + 1} holds {value!r} among numbers; "
                    f"fix the value, or compare the feature by category (categorical={f!r})"
                )
        # CSV numbers on one side, text on the other (not CSV)
        raise InputError(
            f"{_name(current)}: column {f!r} is numeric in one table and text in the other"
        )
    return out[0], out[1]


def _identifier(name: str, column: pa.ChunkedArray) -> str | None:
    """Why a column looks like an identifier (``None`` if it does not): by name, or an
    integer or text column (CSV text that is not a decimal number) whose values all differ."""
    lowered = name.lower()
    if lowered in ("id", "uuid") or lowered.endswith("_id"):
        return "identifier (by name)"
    typ = column.type
    if pa.types.is_dictionary(typ):
        column = column.cast(typ.value_type)
        typ = typ.value_type
    if len(column) < 50 or column.null_count:
        return None
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        numeric = pc.match_substring_regex(column, _NUMBER)
        integer = pc.match_substring_regex(column, r"^[+-]?\d+$")
        if pc.any(numeric).as_py() and not pc.all(integer).as_py():
            return None
    elif not pa.types.is_integer(typ):
        return None
    if pc.count_distinct(column).as_py() == len(column):
        return "identifier (every value distinct)"
    return None


def _is_numeric(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ))


def _feature_drift(
    name: str,
    kind: str,
    ref: pa.ChunkedArray,
    cur: pa.ChunkedArray,
    bins: int,
    epsilon: float,
    reference: TableSource,
) -> FeatureDrift:
    if kind == "numeric":
        if not _is_numeric(cur.type):
            raise InputError(
                f"column {name!r} is numeric in the reference, {cur.type} in the current table"
            )
        r = _floats(ref)
        _check_finite(name, r, reference)
        return _numeric_drift(name, r, _floats(cur), bins, epsilon)
    return _categorical_drift(name, ref, cur, epsilon)


def _check_finite(name: str, values: _F64, reference: TableSource) -> None:
    bad = np.flatnonzero(np.isinf(values))
    if bad.size:
        raise InputError(
            f"{source_name(reference)}: column {name!r} row {int(bad[0]) + 1} is infinite; "
            "reference quantiles need finite values"
        )


def _floats(column: pa.ChunkedArray) -> _F64:
    """Values as float64 with NaN for missing."""
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def cut_points(ref: _F64, bins: int) -> _F64:
    """The reference's quantile cut points (ties merged), from its non-missing values."""
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_labels(cuts: _F64) -> list[str]:
    bounds = [-math.inf, *cuts.tolist(), math.inf]
    return [f"({lo:.6g}, {hi:.6g}]" for lo, hi in itertools.pairwise(bounds)]


def _numeric_drift(name: str, ref: _F64, cur: _F64, bins: int, epsilon: float) -> FeatureDrift:
    from scipy.stats import ks_2samp

    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    labels: list[str] = []
    r_counts: list[int] = []
    c_counts: list[int] = []
    if r.size:
        cuts = cut_points(r, bins)
        labels = bin_labels(cuts)
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
    """Counts per category (labelled as groups are: ``1.0`` is ``1``) and missing values."""
    from ordinance.metrics._labels import label_of

    counts: dict[str, int] = {}
    for item in pc.value_counts(column).to_pylist():
        key = label_of(item["values"])
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + int(item["counts"])
    return counts, len(column) - sum(counts.values())


def _categorical_drift(
    name: str, ref: pa.ChunkedArray, cur: pa.ChunkedArray, epsilon: float
) -> FeatureDrift:
    r, missing_r = _value_counts(ref)
    c, missing_c = _value_counts(cur)
    return _categorical_from_counts(name, r, missing_r, c, missing_c, epsilon)


def _categorical_from_counts(
    name: str,
    r: Mapping[str, int],
    missing_r: int,
    c: Mapping[str, int],
    missing_c: int,
    epsilon: float,
) -> FeatureDrift:
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


def _sql_drift(
    ref_cols: Mapping[str, pa.ChunkedArray],
    current: SqlTable,
    features: list[str],
    kinds: Mapping[str, str],
    bins: int,
    epsilon: float,
    reference: TableSource,
) -> tuple[FeatureDrift, ...]:
    """Drift against a SQL table: the database counts rows per reference bin or category."""
    from ordinance.metrics._sql import drift_counts

    cuts: dict[str, _F64] = {}
    for f in features:
        if kinds[f] == "numeric":
            r = _floats(ref_cols[f])
            _check_finite(f, r, reference)
            r = r[~np.isnan(r)]
            cuts[f] = cut_points(r, bins) if r.size else np.array([], dtype=np.float64)
    counts = drift_counts(current, features, cuts)
    if sum(counts[features[0]].values()) == 0:
        raise InputError(f"{current.name}: the table has no rows")
    out = []
    for f in features:
        got = counts[f]
        if kinds[f] == "numeric":
            ref = _floats(ref_cols[f])
            r = ref[~np.isnan(ref)]
            cut = cuts[f]
            labels = bin_labels(cut) if r.size else ["(-inf, inf]"]
            r_counts = (
                np.bincount(np.searchsorted(cut, r), minlength=len(labels)).tolist()
                if r.size
                else [0]
            )
            c_counts = [int(got.get(str(i), 0)) for i in range(len(labels))]
            out.append(
                _finish(
                    f,
                    "numeric",
                    labels,
                    r_counts,
                    c_counts,
                    int(ref.size - r.size),
                    int(got.get(None, 0)),
                    epsilon,
                    None,
                    None,
                )
            )
        else:
            r_map, missing_r = _value_counts(ref_cols[f])
            c_map = {str(k): int(v) for k, v in got.items() if k is not None}
            out.append(
                _categorical_from_counts(f, r_map, missing_r, c_map, int(got.get(None, 0)), epsilon)
            )
    return tuple(out)


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

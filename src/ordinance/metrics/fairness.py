"""Group fairness metrics from confusion counts, equal to fairlearn's ``MetricFrame``.

The pipeline, one function per step::

    read batches (only the needed columns)        _table.iter_batches
      → encode groups and labels per batch         _GroupEncoder, _LabelReader
      → add confusion counts per group             _CountAccumulator  (np.bincount)
      → metrics per group and overall              _rates
      → disparities and fairlearn summaries        _aggregate, _summaries
      → seeded bootstrap intervals (optional)      _bootstrap
      → FairnessReport

Every metric derives from the four confusion counts of a group (``tn, fp, fn, tp``), and
counts are additive, so reading in batches is exact and memory stays bounded by the batch.

Metric names follow fairlearn/scikit-learn (``selection_rate``, ``true_positive_rate``,
``false_positive_rate``, ``true_negative_rate``, ``false_negative_rate``, ``accuracy_score``,
``precision_score``) and equal ``MetricFrame``'s values. Where a rate is undefined (a zero
denominator: FPR/TNR of a group with no negatives, TPR/FNR of a group with no positives,
precision of a group with no predicted positives) fairlearn and scikit-learn return ``0``;
Ordinance reports ``None`` ("undefined") instead, and its disparities are taken over the groups
where the metric is defined. This is the one deliberate departure; see ``docs/fairness.md``.

Intersectional groups (several sensitive columns) are tuples of labels, as in ``MetricFrame``
with a DataFrame of sensitive features; only combinations that occur are reported. Missing
sensitive values form their own group, labelled :data:`MISSING`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ordinance.errors import InputError
from ordinance.metrics._table import BATCH_ROWS, TableSource, iter_batches, source_name

__all__ = [
    "AGGREGATIONS",
    "METRICS",
    "MISSING",
    "SUMMARIES",
    "Confusion",
    "Disparity",
    "FairnessReport",
    "GroupMetrics",
    "Interval",
    "Summary",
    "compute_fairness",
]

#: Per-group metrics, named as fairlearn and scikit-learn name them.
METRICS: tuple[str, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "accuracy_score",
    "precision_score",
)
#: Disparity aggregations: fairlearn's ``difference``/``ratio`` with ``method="between_groups"``
#: and ``method="to_overall"``.
AGGREGATIONS: tuple[str, ...] = (
    "difference",
    "ratio",
    "difference_to_overall",
    "ratio_to_overall",
)
#: fairlearn's derived summaries (``method="between_groups"``, ``agg="worst_case"``).
SUMMARIES: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)
#: The label of the group of rows whose sensitive value is missing (null or NaN).
MISSING = "<missing>"
#: Most intersectional cells (product of the columns' distinct values) Ordinance will count.
MAX_CELLS = 1_000_000
#: How the bootstrap resamples; recorded in every report that has intervals.
BOOTSTRAP_METHOD = "percentile; rows resampled with replacement within each group (multinomial)"

Label = int | str | bool
Aggregation = Literal["difference", "ratio", "difference_to_overall", "ratio_to_overall"]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- result objects


@dataclass(frozen=True)
class Confusion:
    """The confusion counts of one group."""

    tn: int
    fp: int
    fn: int
    tp: int

    @property
    def count(self) -> int:
        return self.tn + self.fp + self.fn + self.tp

    def to_dict(self) -> dict[str, int]:
        return {"tn": self.tn, "fp": self.fp, "fn": self.fn, "tp": self.tp}


@dataclass(frozen=True)
class GroupMetrics:
    """One group's metrics; ``None`` marks an undefined rate. ``group == ()`` is overall."""

    group: tuple[str, ...]
    count: int
    small: bool
    confusion: Confusion
    metrics: Mapping[str, float | None]

    @property
    def label(self) -> str:
        """The group as text: labels joined by ``" / "`` (``"overall"`` for the whole table)."""
        return " / ".join(self.group) if self.group else "overall"

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": list(self.group),
            "count": self.count,
            "small": self.small,
            "confusion": self.confusion.to_dict(),
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile interval; bounds are ``None`` if no replicate was defined."""

    low: float | None
    high: float | None
    confidence: float
    n_defined: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "n_defined": self.n_defined,
        }


@dataclass(frozen=True)
class Disparity:
    """How much one metric differs between groups, four ways, with optional intervals."""

    metric: str
    difference: float | None
    ratio: float | None
    difference_to_overall: float | None
    ratio_to_overall: float | None
    #: group achieving the largest / smallest defined value (for messages)
    max_group: tuple[str, ...] | None = None
    min_group: tuple[str, ...] | None = None
    #: groups where the metric is undefined, left out of the aggregations
    undefined_groups: tuple[tuple[str, ...], ...] = ()
    ci: Mapping[str, Interval] = field(default_factory=dict)

    def value(self, aggregation: Aggregation) -> float | None:
        """The point estimate of one aggregation (see :data:`AGGREGATIONS`)."""
        if aggregation not in AGGREGATIONS:
            raise InputError(f"unknown aggregation {aggregation!r}: one of {AGGREGATIONS}")
        result: float | None = getattr(self, aggregation)
        return result

    def interval(self, aggregation: Aggregation) -> Interval | None:
        """The bootstrap interval of one aggregation, or ``None`` without a bootstrap."""
        return self.ci.get(aggregation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "difference": self.difference,
            "ratio": self.ratio,
            "difference_to_overall": self.difference_to_overall,
            "ratio_to_overall": self.ratio_to_overall,
            "max_group": None if self.max_group is None else list(self.max_group),
            "min_group": None if self.min_group is None else list(self.min_group),
            "undefined_groups": [list(g) for g in self.undefined_groups],
            "ci": {k: v.to_dict() for k, v in self.ci.items()} if self.ci else None,
        }


@dataclass(frozen=True)
class Summary:
    """A fairlearn summary such as ``demographic_parity_difference``."""

    name: str
    value: float | None
    ci: Interval | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": None if self.ci is None else self.ci.to_dict()}


@dataclass(frozen=True)
class BootstrapSettings:
    n_boot: int
    confidence: float
    seed: int
    method: str = BOOTSTRAP_METHOD

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_boot": self.n_boot,
            "confidence": self.confidence,
            "seed": self.seed,
            "method": self.method,
        }


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics, disparities and summaries for one prediction table."""

    overall: GroupMetrics
    by_group: tuple[GroupMetrics, ...]
    disparities: Mapping[str, Disparity]
    summaries: Mapping[str, Summary]
    sensitive_features: tuple[str, ...]
    min_group_size: int
    n_rows: int
    prediction: Mapping[str, Any]
    pos_label: Label
    bootstrap: BootstrapSettings | None = None

    @property
    def small_groups(self) -> tuple[GroupMetrics, ...]:
        """Groups with fewer rows than ``min_group_size`` (reported and flagged, not dropped)."""
        return tuple(g for g in self.by_group if g.small)

    def disparity(self, metric: str) -> Disparity:
        """The disparity of one metric (see :data:`METRICS`); :class:`InputError` if unknown."""
        try:
            return self.disparities[metric]
        except KeyError:
            raise InputError(f"unknown fairness metric {metric!r}: one of {METRICS}") from None

    def summary(self, name: str) -> Summary:
        """One fairlearn summary (see :data:`SUMMARIES`); :class:`InputError` if unknown."""
        try:
            return self.summaries[name]
        except KeyError:
            raise InputError(f"unknown fairness summary {name!r}: one of {SUMMARIES}") from None

    def group(self, *labels: str) -> GroupMetrics:
        """The group with these labels; :class:`InputError` if it does not occur."""
        for g in self.by_group:
            if g.group == labels:
                return g
        raise InputError(f"no group {' / '.join(labels)!r} in the table")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "sensitive_features": list(self.sensitive_features),
            "prediction": dict(self.prediction),
            "pos_label": self.pos_label,
            "min_group_size": self.min_group_size,
            "overall": self.overall.to_dict(),
            "by_group": [g.to_dict() for g in self.by_group],
            "small_groups": [list(g.group) for g in self.small_groups],
            "disparities": {k: v.to_dict() for k, v in self.disparities.items()},
            "summaries": {k: v.to_dict() for k, v in self.summaries.items()},
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
        }


# --------------------------------------------------------------------------- public entry point


def compute_fairness(
    table: TableSource,
    *,
    y_true: str,
    y_pred: str | None = None,
    score: str | None = None,
    threshold: float | None = None,
    sensitive: Sequence[str],
    min_group_size: int = 30,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
    pos_label: Label = 1,
    batch_rows: int = BATCH_ROWS,
) -> FairnessReport:
    """Compute group fairness metrics of a binary classifier's predictions.

    ``table`` is a CSV or Parquet path, a DataFrame or a pyarrow Table. Give either
    ``y_pred`` (a label column) or ``score`` and ``threshold`` (predicted positive iff
    ``score >= threshold``). ``pos_label`` names the positive class of ``y_true`` and
    ``y_pred``. With ``bootstrap > 0``, every disparity and summary gets a percentile
    interval from that many stratified resamples drawn with ``seed``.

    Raises :class:`~ordinance.errors.InputError` (exit 2) for a missing file or column,
    non-binary labels, a missing score, or inconsistent arguments.
    """
    name = source_name(table)
    _check_arguments(
        name, y_pred, score, threshold, sensitive, min_group_size, bootstrap, confidence
    )
    counts, labels, n_rows = _count(
        table, y_true, y_pred, score, threshold, list(sensitive), pos_label, batch_rows
    )
    if n_rows == 0:
        raise InputError(f"{name}: the table has no rows")
    groups, group_counts = _observed_groups(counts, labels)
    overall_counts = group_counts.sum(axis=0)
    by_group = tuple(
        _group_metrics(g, c, min_group_size) for g, c in zip(groups, group_counts, strict=True)
    )
    overall = _group_metrics((), overall_counts, 0)
    values = _rates(group_counts)
    overall_values = _rates(overall_counts)
    intervals: dict[str, dict[str, Interval]] = {}
    summary_intervals: dict[str, Interval] = {}
    settings = None
    if bootstrap > 0:
        settings = BootstrapSettings(bootstrap, confidence, seed)
        intervals, summary_intervals = _bootstrap(group_counts, settings)
    disparities = {
        m: _disparity(m, values[m], overall_values[m], groups, intervals.get(m, {}))
        for m in METRICS
    }
    summaries = _summaries(disparities, summary_intervals)
    prediction: dict[str, Any] = {"y_true": y_true}
    if y_pred is not None:
        prediction["y_pred"] = y_pred
    else:
        prediction.update(score=score, threshold=threshold)
    return FairnessReport(
        overall=overall,
        by_group=by_group,
        disparities=disparities,
        summaries=summaries,
        sensitive_features=tuple(sensitive),
        min_group_size=min_group_size,
        n_rows=n_rows,
        prediction=prediction,
        pos_label=pos_label,
        bootstrap=settings,
    )


def _check_arguments(
    name: str,
    y_pred: str | None,
    score: str | None,
    threshold: float | None,
    sensitive: Sequence[str],
    min_group_size: int,
    bootstrap: int,
    confidence: float,
) -> None:
    if (y_pred is None) == (score is None):
        raise InputError(f"{name}: give exactly one of a y_pred column or a score column")
    if score is not None and (threshold is None or not math.isfinite(threshold)):
        raise InputError(f"{name}: score column {score!r} needs a finite decision threshold")
    if y_pred is not None and threshold is not None:
        raise InputError(f"{name}: a threshold applies to a score column, not to y_pred")
    if isinstance(sensitive, str) or not sensitive:
        raise InputError(f"{name}: give one or more sensitive-feature columns as a list")
    if len(set(sensitive)) != len(sensitive):
        raise InputError(f"{name}: a sensitive-feature column is named twice")
    if min_group_size < 0:
        raise InputError(f"min_group_size must be >= 0, not {min_group_size}")
    if bootstrap < 0:
        raise InputError(f"bootstrap must be >= 0 resamples, not {bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1, not {confidence}")


# --------------------------------------------------------------------------- counting


class _GroupEncoder:
    """Map one sensitive column's values to stable integer codes across batches."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._codes: dict[str, int] = {}

    def _code(self, label: str) -> int:
        code = self._codes.get(label)
        if code is None:
            code = self._codes[label] = len(self.labels)
            self.labels.append(label)
        return code

    def encode(self, column: pa.Array | pa.ChunkedArray) -> _I64:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_null(column.type):
            return np.full(len(column), self._code(MISSING), dtype=np.int64)
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        dictionary = column.dictionary.to_pylist()
        local = np.array(
            [self._code(_group_label(v)) for v in dictionary] + [self._code(MISSING)],
            dtype=np.int64,
        )
        indices = column.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(dictionary))
        return np.asarray(local[indices.to_numpy(zero_copy_only=False)], dtype=np.int64)


def _group_label(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return str(value)


def _normalize(value: object) -> str:
    """A label's comparable form: ``True``, ``1``, ``1.0`` and ``"1"`` all become ``"1"``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _LabelReader:
    """Turn a binary label column into booleans (``== pos_label``), checking it is binary."""

    def __init__(self, name: str, pos_label: Label) -> None:
        self.name = name
        self.pos = _normalize(pos_label)
        self.seen: dict[str, set[str]] = {}

    def read(self, column: str, values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
        if values.null_count:
            raise InputError(f"{self.name}: column {column!r} has missing labels")
        distinct = self.seen.setdefault(column, set())
        distinct.update(_normalize(v) for v in pc.unique(values).to_pylist())
        union = set().union(*self.seen.values())
        if len(union) > 2:
            shown = ", ".join(sorted(union)[:5])
            raise InputError(
                f"{self.name}: column {column!r} is not binary: labels {shown}"
                + (" (with the other label column)" if len(self.seen) > 1 else "")
            )
        typ = values.type
        if pa.types.is_dictionary(typ):
            values = values.cast(typ.value_type)
            typ = typ.value_type
        target = self._target(column, typ)
        return np.asarray(pc.equal(values, target).to_numpy(zero_copy_only=False), dtype=bool)

    def _target(self, column: str, typ: pa.DataType) -> pa.Scalar:
        pos = self.pos
        try:
            if pa.types.is_boolean(typ):
                if pos not in ("0", "1"):
                    raise ValueError(pos)
                return pa.scalar(pos == "1")
            if pa.types.is_integer(typ):
                return pa.scalar(int(pos), type=typ)
            if pa.types.is_floating(typ):
                return pa.scalar(float(pos), type=typ)
        except ValueError:
            raise InputError(
                f"{self.name}: pos_label {pos!r} cannot match column {column!r} of type {typ}"
            ) from None
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            return pa.scalar(pos, type=typ)
        raise InputError(f"{self.name}: column {column!r} has type {typ}, not binary labels")

    def check_positive_present(self) -> None:
        union = set().union(*self.seen.values())
        if len(union) == 2 and self.pos not in union:
            raise InputError(
                f"{self.name}: pos_label {self.pos!r} is not one of the labels "
                f"{', '.join(sorted(union))} of {', '.join(repr(c) for c in self.seen)}"
            )


class _CountAccumulator:
    """Confusion counts in an array of shape ``(n_values_col1, ..., n_values_colk, 4)``."""

    def __init__(self, k: int, name: str) -> None:
        self.counts: _I64 = np.zeros((1,) * k + (4,), dtype=np.int64)
        self.name = name

    def add(self, codes: list[_I64], cards: list[int], cell: _I64) -> None:
        n_cells = math.prod(cards)
        if n_cells > MAX_CELLS:
            raise InputError(
                f"{self.name}: {n_cells} possible intersectional groups exceed {MAX_CELLS}; "
                "is a sensitive column an identifier?"
            )
        key = codes[0]
        for c, r in zip(codes[1:], cards[1:], strict=True):
            key = key * r + c
        counted = np.bincount(key * 4 + cell, minlength=n_cells * 4).reshape(*cards, 4)
        grow = [(0, r - s) for r, s in zip(cards, self.counts.shape[:-1], strict=True)]
        if any(after for _, after in grow):
            self.counts = np.pad(self.counts, [*grow, (0, 0)])
        self.counts += counted


def _count(
    table: TableSource,
    y_true: str,
    y_pred: str | None,
    score: str | None,
    threshold: float | None,
    sensitive: list[str],
    pos_label: Label,
    batch_rows: int,
) -> tuple[_I64, list[list[str]], int]:
    """Read the table once and return (counts array, labels per column, number of rows)."""
    name = source_name(table)
    pred_col = y_pred if y_pred is not None else score
    assert pred_col is not None
    columns = [y_true, pred_col, *sensitive]
    overlap = set(sensitive) & {y_true, pred_col}
    if overlap:
        raise InputError(f"{name}: column {overlap.pop()!r} is both a label and sensitive")
    encoders = [_GroupEncoder() for _ in sensitive]
    labels = _LabelReader(name, pos_label)
    acc = _CountAccumulator(len(sensitive), name)
    types = {score: pa.float64()} if score is not None else {}
    n_rows = 0
    for batch in iter_batches(
        table, columns, dictionary=sensitive, types=types, batch_rows=batch_rows
    ):
        if batch.num_rows == 0:
            continue
        n_rows += batch.num_rows
        truth = labels.read(y_true, batch.column(y_true))
        if y_pred is not None:
            pred = labels.read(y_pred, batch.column(y_pred))
        else:
            assert score is not None and threshold is not None
            pred = _threshold(name, score, batch.column(score), threshold)
        codes = [
            enc.encode(batch.column(col)) for enc, col in zip(encoders, sensitive, strict=True)
        ]
        cell = truth.astype(np.int64) * 2 + pred
        acc.add(codes, [len(enc.labels) for enc in encoders], cell)
    labels.check_positive_present()
    return acc.counts, [enc.labels for enc in encoders], n_rows


def _threshold(name: str, column: str, values: pa.Array, threshold: float) -> npt.NDArray[np.bool_]:
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        raise InputError(f"{name}: score column {column!r} is not numeric ({values.type})")
    if values.null_count:
        raise InputError(f"{name}: score column {column!r} has missing values")
    scores = values.to_numpy(zero_copy_only=False)
    if pa.types.is_floating(values.type) and np.isnan(scores).any():
        raise InputError(f"{name}: score column {column!r} has NaN values")
    return np.asarray(scores >= threshold, dtype=bool)


def _observed_groups(counts: _I64, labels: list[list[str]]) -> tuple[list[tuple[str, ...]], _I64]:
    """The groups with at least one row, sorted by their labels, and their (G, 4) counts."""
    cards = counts.shape[:-1]
    flat = counts.reshape(-1, 4)
    present = np.flatnonzero(flat.sum(axis=1))
    groups = [
        tuple(labels[i][j] for i, j in enumerate(np.unravel_index(int(k), cards))) for k in present
    ]
    order = sorted(range(len(groups)), key=lambda i: groups[i])
    return [groups[i] for i in order], flat[present[order]]


# --------------------------------------------------------------------------- metrics


def _div(num: npt.NDArray[Any], den: npt.NDArray[Any]) -> _F64:
    """num / den elementwise, NaN where den == 0 (the undefined rates)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _rates(counts: _I64) -> dict[str, _F64]:
    """Every metric from confusion counts ``(..., 4)`` = (tn, fp, fn, tp); NaN = undefined."""
    tn, fp, fn, tp = (counts[..., i] for i in range(4))
    n = tn + fp + fn + tp
    pos = tp + fn
    neg = tn + fp
    return {
        "selection_rate": _div(tp + fp, n),
        "true_positive_rate": _div(tp, pos),
        "false_positive_rate": _div(fp, neg),
        "true_negative_rate": _div(tn, neg),
        "false_negative_rate": _div(fn, pos),
        "accuracy_score": _div(tp + tn, n),
        "precision_score": _div(tp, tp + fp),
    }


def _opt(x: float | np.floating[Any] | _F64) -> float | None:
    """A finite value, or None for NaN (undefined): results never carry NaN."""
    value = float(x)
    return None if math.isnan(value) else value


def _group_metrics(group: tuple[str, ...], counts: _I64, min_group_size: int) -> GroupMetrics:
    tn, fp, fn, tp = (int(x) for x in counts)
    conf = Confusion(tn=tn, fp=fp, fn=fn, tp=tp)
    rates = _rates(counts)
    return GroupMetrics(
        group=group,
        count=conf.count,
        small=conf.count < min_group_size,
        confusion=conf,
        metrics={m: _opt(rates[m]) for m in METRICS},
    )


def _aggregate(values: _F64, overall: _F64) -> dict[str, _F64]:
    """fairlearn's four aggregations over the last axis (groups), skipping undefined values.

    ``values`` has shape ``(..., G)`` and ``overall`` shape ``(...)``; NaN marks undefined.
    Between groups: ``max - min`` and ``min / max`` (undefined when ``max == 0``, as
    fairlearn's 0/0). To overall: ``max |v - overall|`` and ``min r`` with
    ``r = v / overall`` folded below one (``1 / r`` when ``r > 1``), ``0/0`` skipped.
    """
    defined = ~np.isnan(values)
    some = defined.any(axis=-1)
    hi = np.where(defined, values, -np.inf).max(axis=-1, initial=-np.inf)
    lo = np.where(defined, values, np.inf).min(axis=-1, initial=np.inf)
    with np.errstate(all="ignore"):
        difference = np.where(some, hi - lo, np.nan)
        ratio = np.where(some & (hi > 0), lo / hi, np.nan)
        o = overall[..., None]
        gap = np.abs(values - o)
        gap_ok = defined & ~np.isnan(o)
        difference_to_overall = np.where(
            gap_ok.any(axis=-1), np.where(gap_ok, gap, -np.inf).max(axis=-1), np.nan
        )
        r = values / o
        r = np.where(r > 1, 1 / r, r)
        r_ok = gap_ok & ~np.isnan(r)
        ratio_to_overall = np.where(
            r_ok.any(axis=-1), np.where(r_ok, r, np.inf).min(axis=-1), np.nan
        )
    return {
        "difference": difference,
        "ratio": ratio,
        "difference_to_overall": difference_to_overall,
        "ratio_to_overall": ratio_to_overall,
    }


def _disparity(
    metric: str,
    values: _F64,
    overall: _F64,
    groups: list[tuple[str, ...]],
    ci: Mapping[str, Interval],
) -> Disparity:
    agg = _aggregate(values, overall)
    defined = ~np.isnan(values)
    max_group = min_group = None
    if defined.any():
        max_group = groups[int(np.argmax(np.where(defined, values, -np.inf)))]
        min_group = groups[int(np.argmin(np.where(defined, values, np.inf)))]
    return Disparity(
        metric=metric,
        difference=_opt(agg["difference"]),
        ratio=_opt(agg["ratio"]),
        difference_to_overall=_opt(agg["difference_to_overall"]),
        ratio_to_overall=_opt(agg["ratio_to_overall"]),
        max_group=max_group,
        min_group=min_group,
        undefined_groups=tuple(g for g, ok in zip(groups, defined, strict=True) if not ok),
        ci=ci,
    )


def _summary_values(diff: Mapping[str, _F64], ratio: Mapping[str, _F64]) -> dict[str, _F64]:
    """fairlearn's summaries from per-metric differences/ratios (worst case over TPR, FPR).

    Shapes broadcast, so the same code serves point estimates and bootstrap replicates.
    """

    def worst(a: _F64, b: _F64, pick: Any) -> _F64:
        # undefined if either part is: fail closed (fairlearn's Python max/min of a Series
        # holding NaN depends on the order of its parts)
        both = np.stack([a, b])
        ok = ~np.isnan(both).any(axis=0)
        return np.where(ok, pick(np.where(ok, both, 0.0), axis=0), np.nan)

    tpr, fpr = "true_positive_rate", "false_positive_rate"
    return {
        "demographic_parity_difference": diff["selection_rate"],
        "demographic_parity_ratio": ratio["selection_rate"],
        "equalized_odds_difference": worst(diff[tpr], diff[fpr], np.max),
        "equalized_odds_ratio": worst(ratio[tpr], ratio[fpr], np.min),
        "equal_opportunity_difference": diff[tpr],
        "equal_opportunity_ratio": ratio[tpr],
    }


def _summaries(
    disparities: Mapping[str, Disparity], intervals: Mapping[str, Interval]
) -> dict[str, Summary]:
    def arr(x: float | None) -> _F64:
        return np.array(np.nan if x is None else x)

    diff = {m: arr(d.difference) for m, d in disparities.items()}
    ratio = {m: arr(d.ratio) for m, d in disparities.items()}
    values = _summary_values(diff, ratio)
    return {k: Summary(k, _opt(values[k]), intervals.get(k)) for k in SUMMARIES}


# --------------------------------------------------------------------------- bootstrap


def _bootstrap(
    group_counts: _I64, settings: BootstrapSettings
) -> tuple[dict[str, dict[str, Interval]], dict[str, Interval]]:
    """Percentile intervals from resampling rows with replacement within each group.

    Resampling the ``n_g`` rows of group ``g`` gives confusion counts distributed as
    ``Multinomial(n_g, counts_g / n_g)``, so the replicates are drawn from the counts
    directly — exact for the stratified row bootstrap, and independent of the table size.
    The overall counts of a replicate are the sum of its groups' counts.
    """
    rng = np.random.default_rng(settings.seed)
    n = group_counts.sum(axis=1)
    pvals = group_counts / n[:, None]
    reps = rng.multinomial(n, pvals, size=(settings.n_boot, len(n)))  # (B, G, 4)
    values = _rates(reps)
    overall = _rates(reps.sum(axis=1))
    per_metric: dict[str, dict[str, Interval]] = {}
    diff: dict[str, _F64] = {}
    ratio: dict[str, _F64] = {}
    for m in METRICS:
        agg = _aggregate(values[m], overall[m])
        diff[m], ratio[m] = agg["difference"], agg["ratio"]
        per_metric[m] = {a: _interval(agg[a], settings.confidence) for a in AGGREGATIONS}
    summaries = _summary_values(diff, ratio)
    return per_metric, {k: _interval(v, settings.confidence) for k, v in summaries.items()}


def _interval(replicates: _F64, confidence: float) -> Interval:
    ok = replicates[~np.isnan(replicates)]
    if ok.size == 0:
        return Interval(None, None, confidence, 0)
    alpha = 1.0 - confidence
    low, high = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return Interval(float(low), float(high), confidence, int(ok.size))

"""Group fairness metrics from confusion counts, equal to fairlearn's ``MetricFrame``.

The pipeline, one function per step::

    count confusion cells per group                 _counts.count_batches (files, DataFrames)
                                                    _sql.count_sql        (pushed down to SQL)
      → metrics per group and overall               _rates
      → disparities and fairlearn summaries         _aggregate, _summaries
      → seeded bootstrap intervals (optional)       _bootstrap
      → FairnessReport

Every metric derives from the four confusion counts of a group (``tn, fp, fn, tp``) — with
sample weights, their weighted sums — and counts are additive, so reading in batches, or
letting a database aggregate, is exact and memory stays bounded by the number of groups.

Metric names follow fairlearn/scikit-learn (``selection_rate``, ``true_positive_rate``,
``false_positive_rate``, ``true_negative_rate``, ``false_negative_rate``, ``accuracy_score``,
``precision_score``) and equal ``MetricFrame``'s values (weighted: ``MetricFrame`` with
``sample_params``). Where a rate is undefined (a zero denominator: FPR/TNR of a group with no
negatives, TPR/FNR of a group with no positives, precision of a group with no predicted
positives) the group's value is ``None``. Disparities then follow :data:`UNDEFINED_MODES`:
``"strict"`` (the default, fairlearn's and scikit-learn's convention) counts the undefined
rate as ``0``, so every disparity and summary equals fairlearn's; ``"skip"`` leaves the group
out of that metric's disparities. Either way the groups are listed in ``undefined_groups``.
See ``docs/fairness.md``.

Intersectional groups (several sensitive columns) are tuples of labels, as in ``MetricFrame``
with a DataFrame of sensitive features; only combinations that occur are reported. Missing
sensitive values form their own group, whose label is ``None`` (:data:`MISSING`; shown as
``<missing>`` in text).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ordinance.errors import InputError
from ordinance.metrics._counts import MAX_CELLS, CountSpec, GroupCounts, Label, count_batches
from ordinance.metrics._labels import MISSING_TEXT, GroupLabel
from ordinance.metrics._table import (
    BATCH_ROWS,
    NA_VALUES,
    TableSource,
    is_csv,
    iter_batches,
    source_name,
)

if TYPE_CHECKING:
    from ordinance.metrics._sql import SqlTable

__all__ = [
    "AGGREGATIONS",
    "MAX_CELLS",
    "METRICS",
    "MISSING",
    "SUMMARIES",
    "UNDEFINED_MODES",
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
#: How disparities treat a group whose rate is undefined: ``strict`` counts it as 0
#: (fairlearn's convention, the default), ``skip`` leaves it out.
UNDEFINED_MODES: tuple[str, ...] = ("strict", "skip")
#: The label of the group of rows whose sensitive value is missing (null or NaN).
MISSING: GroupLabel = None
#: How the bootstrap resamples; recorded in every report that has intervals.
BOOTSTRAP_METHOD = "percentile; rows resampled with replacement within each group (multinomial)"

Aggregation = Literal["difference", "ratio", "difference_to_overall", "ratio_to_overall"]
Undefined = Literal["strict", "skip"]
Group = tuple[GroupLabel, ...]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]


def group_text(group: Sequence[GroupLabel]) -> str:
    """A group as text: labels joined by ``" / "``, missing as ``<missing>``."""
    return " / ".join(MISSING_TEXT if v is None else v for v in group) if group else "overall"


# --------------------------------------------------------------------------- result objects


@dataclass(frozen=True)
class Confusion:
    """The confusion counts of one group (weighted sums are floats)."""

    tn: float
    fp: float
    fn: float
    tp: float

    @property
    def count(self) -> float:
        return self.tn + self.fp + self.fn + self.tp

    def to_dict(self) -> dict[str, float]:
        return {"tn": self.tn, "fp": self.fp, "fn": self.fn, "tp": self.tp}


@dataclass(frozen=True)
class GroupMetrics:
    """One group's metrics; ``None`` marks an undefined rate. ``group == ()`` is overall.

    With sample weights, ``metrics`` are weighted and ``weighted_confusion`` holds the summed
    weights; ``count`` and ``confusion`` are always rows.
    """

    group: Group
    count: int
    small: bool
    confusion: Confusion
    metrics: Mapping[str, float | None]
    weighted_confusion: Confusion | None = None
    #: bootstrap intervals of the metrics (empty without a bootstrap)
    ci: Mapping[str, Interval] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The group as text: labels joined by ``" / "`` (``"overall"`` for the whole table)."""
        return group_text(self.group)

    @property
    def weight(self) -> float | None:
        """The group's summed sample weight (``None`` without weights)."""
        return None if self.weighted_confusion is None else self.weighted_confusion.count

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": list(self.group),
            "count": self.count,
            "small": self.small,
            "confusion": self.confusion.to_dict(),
            "metrics": dict(self.metrics),
        }
        if self.weighted_confusion is not None:
            out["weight"] = self.weight
            out["weighted_confusion"] = self.weighted_confusion.to_dict()
        if self.ci:
            out["ci"] = {k: v.to_dict() for k, v in self.ci.items()}
        return out


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
    max_group: Group | None = None
    min_group: Group | None = None
    #: groups where the metric is undefined: counted as 0 (strict) or left out (skip)
    undefined_groups: tuple[Group, ...] = ()
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
    sample_weight: str | None = None
    undefined: Undefined = "strict"
    #: groups left out because they have fewer than ``min_group_size`` rows
    #: (``drop_small_groups=True``); they are in no metric, overall included
    excluded_groups: tuple[GroupMetrics, ...] = ()

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

    def group(self, *labels: GroupLabel) -> GroupMetrics:
        """The group with these labels (``None`` for missing); :class:`InputError` if absent."""
        for g in self.by_group:
            if g.group == labels:
                return g
        raise InputError(f"no group {group_text(labels)!r} in the table")

    def undefined_by_metric(self) -> dict[str, tuple[Group, ...]]:
        """For each metric undefined somewhere, the groups where it is undefined."""
        return {m: d.undefined_groups for m, d in self.disparities.items() if d.undefined_groups}

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "sensitive_features": list(self.sensitive_features),
            "prediction": dict(self.prediction),
            "pos_label": self.pos_label,
            "sample_weight": self.sample_weight,
            "undefined_rates": self.undefined,
            "min_group_size": self.min_group_size,
            "overall": self.overall.to_dict(),
            "by_group": [g.to_dict() for g in self.by_group],
            "small_groups": [list(g.group) for g in self.small_groups],
            "excluded_groups": [list(g.group) for g in self.excluded_groups],
            "disparities": {k: v.to_dict() for k, v in self.disparities.items()},
            "summaries": {k: v.to_dict() for k, v in self.summaries.items()},
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
        }


# --------------------------------------------------------------------------- public entry point


def compute_fairness(
    table: TableSource | SqlTable,
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
    sample_weight: str | None = None,
    undefined: Undefined = "strict",
    drop_small_groups: bool = False,
    na_values: Sequence[str] = NA_VALUES,
    batch_rows: int = BATCH_ROWS,
) -> FairnessReport:
    """Compute group fairness metrics of a binary classifier's predictions.

    ``table`` is a CSV or Parquet path (file, dataset directory or ``s3://`` URI), a
    DataFrame, a pyarrow Table, or a :class:`~ordinance.metrics.SqlTable` (the counting is
    then pushed down to the database). Give either ``y_pred`` (a label column) or ``score``
    and ``threshold`` (predicted positive iff ``score >= threshold``). ``pos_label`` names
    the positive class of ``y_true`` and ``y_pred``; ``sample_weight`` a column of
    non-negative row weights (fairlearn's ``sample_params``). ``undefined`` says how
    disparities treat an undefined rate (:data:`UNDEFINED_MODES`). With ``bootstrap > 0``,
    every metric, disparity and summary gets a percentile interval from that many
    stratified resamples drawn with ``seed``. ``drop_small_groups`` leaves groups with fewer
    than ``min_group_size`` rows out of everything (they are listed in ``excluded_groups``).
    ``na_values``: the CSV cells read as missing (only the empty cell by default).

    Raises :class:`~ordinance.errors.InputError` (exit 2) for a missing file or column,
    non-binary labels, a missing score or weight, or inconsistent arguments.
    """
    from ordinance.metrics._sql import SqlTable, count_sql

    name = table.name if isinstance(table, SqlTable) else source_name(table)
    _check_arguments(
        name, y_pred, score, threshold, sensitive, min_group_size, bootstrap, confidence
    )
    if undefined not in UNDEFINED_MODES:
        raise InputError(f"undefined must be one of {UNDEFINED_MODES}, not {undefined!r}")
    if bootstrap and sample_weight is not None:
        raise InputError(
            f"{name}: bootstrap intervals with sample weights are not supported "
            "(resampling weighted rows needs the rows, not their counts)"
        )
    spec = CountSpec(
        y_true=y_true,
        y_pred=y_pred,
        score=score,
        threshold=threshold,
        sensitive=tuple(sensitive),
        pos_label=pos_label,
        sample_weight=sample_weight,
    )
    overlap = set(sensitive) & {y_true, spec.prediction_column, sample_weight}
    if overlap:
        raise InputError(f"{name}: column {overlap.pop()!r} is both a label and sensitive")
    if isinstance(table, SqlTable):
        counts = count_sql(table, spec)
    else:
        counts = _count_local(table, spec, batch_rows, na_values)
    if counts.n_rows == 0:
        raise InputError(f"{name}: the table has no rows")
    excluded: tuple[GroupMetrics, ...] = ()
    if drop_small_groups:
        sizes = counts.rows.sum(axis=1)
        excluded = tuple(
            _group_metrics(g, counts, i, min_group_size)
            for i, g in enumerate(counts.groups)
            if sizes[i] < min_group_size
        )
        counts = counts.keep(g for i, g in enumerate(counts.groups) if sizes[i] >= min_group_size)
    prediction: dict[str, Any] = {"y_true": y_true}
    if y_pred is not None:
        prediction["y_pred"] = y_pred
    else:
        prediction.update(score=score, threshold=threshold)
    settings = BootstrapSettings(bootstrap, confidence, seed) if bootstrap > 0 else None
    return _report(counts, spec, min_group_size, undefined, settings, prediction, excluded)


def _count_local(
    table: TableSource, spec: CountSpec, batch_rows: int, na_values: Sequence[str]
) -> GroupCounts:
    import pyarrow as pa

    name = source_name(table)
    types = {c: pa.float64() for c in (spec.score, spec.sample_weight) if c is not None}
    batches = iter_batches(
        table,
        spec.columns(),
        dictionary=spec.sensitive,
        types=types,
        batch_rows=batch_rows,
        na_values=na_values,
    )
    return count_batches(
        name,
        batches,
        spec,
        typed_text=is_csv(table),
        prediction="labels" if spec.y_pred is not None else "score",
    )


def _report(
    counts: GroupCounts,
    spec: CountSpec,
    min_group_size: int,
    undefined: Undefined,
    settings: BootstrapSettings | None,
    prediction: dict[str, Any],
    excluded: tuple[GroupMetrics, ...],
) -> FairnessReport:
    cells = counts.rows if counts.weights is None else counts.weights
    values = _rates(cells)
    overall_values = _rates(cells.sum(axis=0))
    group_ci: list[dict[str, Interval]] = [{} for _ in counts.groups]
    overall_ci: dict[str, Interval] = {}
    intervals: dict[str, dict[str, Interval]] = {}
    summary_intervals: dict[str, Interval] = {}
    if settings is not None:
        boot = _bootstrap(counts.rows, settings, undefined)
        intervals, summary_intervals, group_ci, overall_ci = boot
    by_group = tuple(
        _group_metrics(g, counts, i, min_group_size, group_ci[i])
        for i, g in enumerate(counts.groups)
    )
    overall = _overall_metrics(counts, overall_ci)
    disparities = {
        m: _disparity(
            m, values[m], overall_values[m], list(counts.groups), intervals.get(m, {}), undefined
        )
        for m in METRICS
    }
    summaries = _summaries(disparities, summary_intervals)
    return FairnessReport(
        overall=overall,
        by_group=by_group,
        disparities=disparities,
        summaries=summaries,
        sensitive_features=spec.sensitive,
        min_group_size=min_group_size,
        n_rows=counts.n_rows,
        prediction=prediction,
        pos_label=spec.pos_label,
        bootstrap=settings,
        sample_weight=spec.sample_weight,
        undefined=undefined,
        excluded_groups=excluded,
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


# --------------------------------------------------------------------------- metrics


def _div(num: npt.NDArray[Any], den: npt.NDArray[Any]) -> _F64:
    """num / den elementwise, NaN where den == 0 (the undefined rates)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _rates(counts: npt.NDArray[Any]) -> dict[str, _F64]:
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


def _confusion(cells: npt.NDArray[Any], as_int: bool) -> Confusion:
    cast = int if as_int else float
    tn, fp, fn, tp = (cast(x) for x in cells)
    return Confusion(tn=tn, fp=fp, fn=fn, tp=tp)


def _metrics_of(
    rows: _I64, weights: _F64 | None, ci: Mapping[str, Interval]
) -> tuple[Confusion, Confusion | None, dict[str, float | None]]:
    conf = _confusion(rows, True)
    weighted = None if weights is None else _confusion(weights, False)
    rates = _rates(rows if weights is None else weights)
    return conf, weighted, {m: _opt(rates[m]) for m in METRICS}


def _group_metrics(
    group: Group,
    counts: GroupCounts,
    i: int,
    min_group_size: int,
    ci: Mapping[str, Interval] | None = None,
) -> GroupMetrics:
    weights = None if counts.weights is None else counts.weights[i]
    conf, weighted, metrics = _metrics_of(counts.rows[i], weights, ci or {})
    return GroupMetrics(
        group=group,
        count=int(conf.count),
        small=conf.count < min_group_size,
        confusion=conf,
        metrics=metrics,
        weighted_confusion=weighted,
        ci=dict(ci or {}),
    )


def _overall_metrics(counts: GroupCounts, ci: Mapping[str, Interval]) -> GroupMetrics:
    weights = None if counts.weights is None else counts.weights.sum(axis=0)
    conf, weighted, metrics = _metrics_of(counts.rows.sum(axis=0), weights, ci)
    return GroupMetrics(
        group=(),
        count=int(conf.count),
        small=False,
        confusion=conf,
        metrics=metrics,
        weighted_confusion=weighted,
        ci=dict(ci),
    )


def _strict(values: _F64, undefined: Undefined) -> _F64:
    """In strict mode an undefined rate counts as 0, as in fairlearn and scikit-learn."""
    return np.nan_to_num(values, nan=0.0) if undefined == "strict" else values


def _aggregate(values: _F64, overall: _F64) -> dict[str, _F64]:
    """fairlearn's four aggregations over the last axis (groups), skipping NaN values.

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
    groups: list[Group],
    ci: Mapping[str, Interval],
    undefined: Undefined,
) -> Disparity:
    agg = _aggregate(_strict(values, undefined), _strict(overall, undefined))
    defined = ~np.isnan(values)
    counted = ~np.isnan(_strict(values, undefined))
    max_group = min_group = None
    if counted.any():
        v = _strict(values, undefined)
        max_group = groups[int(np.argmax(np.where(counted, v, -np.inf)))]
        min_group = groups[int(np.argmin(np.where(counted, v, np.inf)))]
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

_Boot = tuple[
    dict[str, dict[str, Interval]],
    dict[str, Interval],
    list[dict[str, Interval]],
    dict[str, Interval],
]


def _bootstrap(group_counts: _I64, settings: BootstrapSettings, undefined: Undefined) -> _Boot:
    """Percentile intervals from resampling rows with replacement within each group.

    Resampling the ``n_g`` rows of group ``g`` gives confusion counts distributed as
    ``Multinomial(n_g, counts_g / n_g)``, so the replicates are drawn from the counts
    directly — exact for the stratified row bootstrap, and independent of the table size.
    The overall counts of a replicate are the sum of its groups' counts.

    Returns intervals per (metric, aggregation), per summary, per group and metric, and
    per overall metric.
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
    conf = settings.confidence
    for m in METRICS:
        agg = _aggregate(_strict(values[m], undefined), _strict(overall[m], undefined))
        diff[m], ratio[m] = agg["difference"], agg["ratio"]
        per_metric[m] = {a: _interval(agg[a], conf) for a in AGGREGATIONS}
    summaries = _summary_values(diff, ratio)
    per_group = [{m: _interval(values[m][:, g], conf) for m in METRICS} for g in range(len(n))]
    per_overall = {m: _interval(overall[m], conf) for m in METRICS}
    return (
        per_metric,
        {k: _interval(v, conf) for k, v in summaries.items()},
        per_group,
        per_overall,
    )


def _interval(replicates: _F64, confidence: float) -> Interval:
    ok = replicates[~np.isnan(replicates)]
    if ok.size == 0:
        return Interval(None, None, confidence, 0)
    alpha = 1.0 - confidence
    low, high = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return Interval(float(low), float(high), confidence, int(ok.size))

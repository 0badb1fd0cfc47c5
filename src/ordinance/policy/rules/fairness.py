"""``fairness.threshold``: a disparity computed from the version's registered predictions.

The numbers come from :func:`ordinance.metrics.fairness.compute_fairness` on the version's
``predictions`` evidence file, never from a typed-in value. One report holds every metric,
so the report is cached per (evidence digest, computation settings): five fairness rules on
the same sensitive features read the table once.

Groups smaller than ``min_group_size`` are not compared: the report leaves them out of every
metric, overall included (``drop_small_groups``; they are listed in the measured value).
Fewer than two large groups is an ``error``: there is nothing to compare.

With ``use_confidence_bound``, the rule decides on a bootstrap bound instead of the estimate:
``confidence_bound: pessimistic`` (the default) fails unless the whole interval is within the
threshold; ``optimistic`` fails only if the whole interval is beyond it (for a difference:
only if the *lower* bound exceeds ``max``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from ordinance.errors import InputError
from ordinance.model import Evidence
from ordinance.policy.context import RuleContext
from ordinance.policy.results import RuleResult
from ordinance.policy.rules._base import Params, fmt

if TYPE_CHECKING:
    import pyarrow as pa

    from ordinance.metrics.fairness import FairnessReport

FairnessMetric = Literal[
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "accuracy_score",
    "precision_score",
]


class FairnessParams(Params):
    metric: FairnessMetric
    aggregate: Literal["difference", "ratio"]
    compare: Literal["between_groups", "to_overall"] = "between_groups"
    #: sensitive columns, one intersectional grouping (default: each declared column alone)
    sensitive: tuple[str, ...] | None = Field(default=None, min_length=1)
    #: for ``difference``: the largest allowed value
    max: float | None = Field(default=None, ge=0, le=1)
    #: for ``ratio``: the smallest allowed value
    min: float | None = Field(default=None, ge=0, le=1)
    min_group_size: int = Field(default=30, ge=1)
    #: decide on the bootstrap bound (upper for difference, lower for ratio), not the estimate
    use_confidence_bound: bool = False
    #: which bound: pessimistic (as above) or optimistic (lower for difference, upper for ratio)
    confidence_bound: Literal["pessimistic", "optimistic"] = "pessimistic"
    bootstrap: int = Field(default=1000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = Field(default=0, ge=0)
    #: name of the predictions evidence, when a version has several
    evidence: str | None = None
    #: which declared prediction the rule judges: the label column (``y_pred``) or the score
    #: thresholded at the declared ``threshold`` (``score``); required when a table declares both
    judge: Literal["y_pred", "score"] | None = None

    @model_validator(mode="after")
    def _threshold_matches_aggregate(self) -> FairnessParams:
        if self.aggregate == "difference":
            if self.max is None or self.min is not None:
                raise ValueError("aggregate 'difference' takes a 'max' threshold (and no 'min')")
        elif self.min is None or self.max is not None:
            raise ValueError("aggregate 'ratio' takes a 'min' threshold (and no 'max')")
        return self

    @property
    def aggregation(self) -> str:
        return (
            self.aggregate if self.compare == "between_groups" else f"{self.aggregate}_to_overall"
        )


def _predictions(ctx: RuleContext, name: str | None) -> Evidence:
    items = [e for e in ctx.version.evidence_of("predictions") if name is None or e.name == name]
    if not items:
        named = f" named {name!r}" if name else ""
        raise InputError(f"no predictions evidence{named} is registered for this version")
    if len(items) > 1:
        raise InputError(f"{len(items)} predictions evidence files; name one with params.evidence")
    return items[0]


def _table(ctx: RuleContext, item: Evidence) -> pa.Table:
    from ordinance.metrics._table import read_table

    path = ctx.evidence_path(item)
    return ctx.memo(("table", item.sha256), lambda: read_table(path))


def group_text(group: tuple[str | None, ...]) -> str:
    """A group as messages show it (a missing value is ``<missing>``)."""
    return " / ".join("<missing>" if v is None else v for v in group)


FairnessResult = tuple["FairnessReport", tuple[tuple[str | None, ...], ...]]


def groupings(item: Evidence, p: FairnessParams) -> list[tuple[str, ...]]:
    """The groupings to assess: the rule's ``sensitive`` columns as one intersectional
    grouping, or else each sensitive column the evidence declares, one at a time."""
    if p.sensitive is not None:
        return [p.sensitive]
    declared = item.attributes.get("sensitive") or ()
    if isinstance(declared, str):
        declared = (declared,)
    if not declared:
        raise InputError(
            f"predictions {item.name!r} declare no sensitive columns and the rule names none"
        )
    return [(str(c),) for c in declared]


def judged_prediction(item: Evidence, p: FairnessParams) -> tuple[str, str]:
    """(``y_pred`` or ``score``, its column): what the rule judges, never chosen silently.

    A table declaring both a label column and a score needs the rule to say which one it
    judges (``params.judge``); the two can disagree widely (a gap of 0.33 on the labels and
    0.02 on the score is possible on the same rows).
    """
    declared = {
        k: v for k in ("y_pred", "score") if isinstance(v := item.attributes.get(k), str) and v
    }
    if p.judge is not None:
        if p.judge not in declared:
            raise InputError(
                f"the rule judges {p.judge} but predictions {item.name!r} declare no "
                f"{p.judge!r} column"
            )
        return p.judge, declared[p.judge]
    if len(declared) == 2:
        raise InputError(
            f"predictions {item.name!r} declare both y_pred ({declared['y_pred']!r}) and score "
            f"({declared['score']!r}); the rule must choose one: params.judge: y_pred or score"
        )
    if not declared:
        raise InputError(f"predictions {item.name!r} declare neither 'y_pred' nor 'score'")
    ((kind, column),) = declared.items()
    return kind, column


def fairness_report(
    ctx: RuleContext, item: Evidence, p: FairnessParams, sensitive: tuple[str, ...]
) -> FairnessResult:
    """The (cached) report for this evidence, grouping and settings, and the small groups
    left out of it."""
    from ordinance.metrics.fairness import compute_fairness

    attrs = item.attributes
    y_true = attrs.get("y_true")
    if not isinstance(y_true, str):
        raise InputError(f"predictions {item.name!r} have no 'y_true' attribute")
    judged, column = judged_prediction(item, p)
    boot = p.bootstrap if p.use_confidence_bound else 0
    kwargs: dict[str, Any] = {
        "y_true": y_true,
        "y_pred": column if judged == "y_pred" else None,
        "score": column if judged == "score" else None,
        "threshold": attrs.get("threshold") if judged == "score" else None,
        "sensitive": list(sensitive),
        "min_group_size": p.min_group_size,
        "bootstrap": boot,
        "confidence": p.confidence,
        "seed": p.seed,
        "pos_label": attrs.get("pos_label", 1),
        "sample_weight": attrs.get("sample_weight"),
    }
    names = " × ".join(sensitive)

    def compute() -> FairnessResult:
        from ordinance.metrics._sql import declared_sql

        sql = declared_sql(item.attributes, f"predictions {item.name!r}")
        source = sql if sql is not None else _table(ctx, item)
        report = compute_fairness(source, drop_small_groups=True, **kwargs)
        small = tuple(g.group for g in report.excluded_groups)
        if small and len(report.by_group) < 2:
            raise InputError(
                f"fewer than two groups of {names} have at least "
                f"{p.min_group_size} rows: nothing to compare"
            )
        if len(report.by_group) < 2:
            raise InputError(f"only one group of {names}: nothing to compare")
        return report, small

    key = (
        "fairness",
        item.sha256,
        judged,
        sensitive,
        p.min_group_size,
        boot,
        p.confidence,
        p.seed,
    )
    return ctx.memo(key, compute)


class FairnessThreshold:
    """A fairlearn metric's disparity between groups (or to overall) within a threshold.

    With several groupings (the default: each declared sensitive column), every grouping must
    meet the threshold; the worst one is reported as the measured ``value``.
    """

    type_name: ClassVar[str] = "fairness.threshold"
    Params: ClassVar[type[BaseModel]] = FairnessParams

    def __init__(self, params: FairnessParams) -> None:
        self.params = params

    def _threshold(self) -> dict[str, Any]:
        p = self.params
        out: dict[str, Any] = {"metric": p.metric, "aggregation": p.aggregation}
        if p.max is not None:
            out["max"] = p.max
        if p.min is not None:
            out["min"] = p.min
        if p.use_confidence_bound:
            out["confidence"] = p.confidence
            out["confidence_bound"] = p.confidence_bound
        return out

    def _assess(
        self, ctx: RuleContext, item: Evidence, sensitive: tuple[str, ...]
    ) -> dict[str, Any]:
        """One grouping's measured values, the value decided on, and a phrase for messages."""
        p = self.params
        report, small = fairness_report(ctx, item, p, sensitive)
        disparity = report.disparity(p.metric)
        agg: Any = p.aggregation
        value = disparity.value(agg)
        groups = {g.label: g.metrics.get(p.metric) for g in report.by_group}
        out: dict[str, Any] = {
            "value": value,
            "groups": groups,
            "group_sizes": {g.label: g.count for g in report.by_group},
            "overall": report.overall.metrics.get(p.metric),
            "excluded_small_groups": [group_text(g) for g in small],
            "n_rows": report.n_rows,
        }
        label = " × ".join(sensitive)
        if value is None:
            out["decided"] = None
            out["phrase"] = f"{label}: undefined"
            return out
        out["decided"] = value
        phrase = f"{label} {fmt(value)}"
        if p.use_confidence_bound:
            interval = disparity.interval(agg)
            bound = None
            upper = (p.aggregate == "difference") == (p.confidence_bound == "pessimistic")
            if interval is not None:
                bound = interval.high if upper else interval.low
                out["ci"] = [interval.low, interval.high]
            out["bound"] = bound
            out["decided"] = bound
            side = "upper" if upper else "lower"
            phrase += f" ({side} {p.confidence:.0%} bound {fmt(bound)})"
        if disparity.max_group is not None and disparity.min_group is not None:
            hi, lo = group_text(disparity.max_group), group_text(disparity.min_group)
            phrase += f" [{hi} {fmt(groups.get(hi))}, {lo} {fmt(groups.get(lo))}]"
        out["phrase"] = phrase
        return out

    def _ok(self, decided: float) -> bool:
        p = self.params
        if p.aggregate == "difference":
            assert p.max is not None
            return decided <= p.max
        assert p.min is not None
        return decided >= p.min

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        p = self.params
        item = _predictions(ctx, p.evidence)
        judged, column = judged_prediction(item, p)
        by_grouping = {" × ".join(g): self._assess(ctx, item, g) for g in groupings(item, p)}
        threshold = self._threshold()
        on = f"{judged} {column!r}"
        if judged == "score":
            on += f" >= {fmt(item.attributes.get('threshold'))}"
        what = f"{p.aggregation.replace('_', ' ')} of {p.metric} on {on}"
        undefined = [k for k, a in by_grouping.items() if a["decided"] is None]
        defined = {k: a for k, a in by_grouping.items() if a["decided"] is not None}
        sign = 1.0 if p.aggregate == "difference" else -1.0
        worst = max(defined, key=lambda k: sign * defined[k]["decided"], default=None)
        measured: dict[str, Any] = {
            "judged": {"prediction": judged, "column": column},
            "value": None if worst is None else defined[worst]["value"],
            "worst": worst,
            "by_sensitive": {
                k: {n: v for n, v in a.items() if n not in ("phrase", "decided")}
                for k, a in by_grouping.items()
            },
        }
        if worst is not None and "bound" in defined[worst]:
            measured["bound"] = defined[worst]["bound"]
        if undefined:
            return RuleResult.errored(
                f"{what} is undefined for {', '.join(undefined)}",
                measured=measured,
                threshold=threshold,
                evidence=[item.sha256],
            )
        bad = [k for k, a in defined.items() if not self._ok(a["decided"])]
        limit = f"max {fmt(p.max)}" if p.max is not None else f"min {fmt(p.min)}"
        shown = "; ".join(by_grouping[k]["phrase"] for k in (bad or list(by_grouping)))
        if bad:
            return RuleResult.failed(
                f"{what} exceeds {limit}: {shown}"
                if p.max is not None
                else f"{what} below {limit}: {shown}",
                measured=measured,
                threshold=threshold,
                evidence=[item.sha256],
            )
        return RuleResult.passed(
            f"{what} within {limit}: {shown}",
            measured=measured,
            threshold=threshold,
            evidence=[item.sha256],
        )

    def describe(self) -> str:
        p = self.params
        over = (
            "groups of " + " × ".join(p.sensitive)
            if p.sensitive
            else "groups of each sensitive column of the predictions"
        )
        where = "between" if p.compare == "between_groups" else "between overall and"
        limit = p.max if p.aggregate == "difference" else p.min
        bound = f"{'at most' if p.aggregate == 'difference' else 'at least'} {fmt(limit)}"
        text = (
            f"the {p.aggregate} in {p.metric} {where} {over} (groups of at least "
            f"{p.min_group_size} rows), computed from the registered predictions, is {bound}"
        )
        if p.use_confidence_bound:
            upper = (p.aggregate == "difference") == (p.confidence_bound == "pessimistic")
            side = "upper" if upper else "lower"
            text += f", judged on the {side} bound of a {p.confidence:.0%} bootstrap interval"
        return text

"""``drift.threshold``: per-feature PSI or KS between reference and current data.

The numbers come from :func:`ordinance.metrics.drift.compute_drift` on two registered evidence
files (``reference_data`` and, by default, ``predictions``); the rule only compares them.
KS statistics exist for numeric features only; categorical features are then left out (and
listed in the measured value).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from ordinance.errors import InputError
from ordinance.model import Evidence
from ordinance.policy.context import RuleContext
from ordinance.policy.results import RuleResult
from ordinance.policy.rules._base import Params, fmt

_NAMES = {
    "psi": "population stability index",
    "ks_statistic": "Kolmogorov-Smirnov statistic",
    "ks_pvalue": "Kolmogorov-Smirnov p-value",
}


class DriftParams(Params):
    statistic: Literal["psi", "ks_statistic", "ks_pvalue"] = "psi"
    #: the largest allowed value (``psi``, ``ks_statistic``)
    max: float | None = Field(default=None, gt=0)
    #: the smallest allowed value (``ks_pvalue``)
    min: float | None = Field(default=None, gt=0, lt=1)
    #: features to compare (default: every column the two tables share)
    features: tuple[str, ...] | None = Field(default=None, min_length=1)
    bins: int = Field(default=10, ge=2, le=1000)
    reference: str = "reference_data"
    current: str = "predictions"

    @model_validator(mode="after")
    def _bound(self) -> DriftParams:
        if self.statistic == "ks_pvalue":
            if self.min is None or self.max is not None:
                raise ValueError("statistic 'ks_pvalue' takes a 'min' threshold (and no 'max')")
        elif self.max is None or self.min is not None:
            raise ValueError(f"statistic {self.statistic!r} takes a 'max' threshold (and no 'min')")
        return self


def _one(ctx: RuleContext, kind: str) -> Evidence:
    items = ctx.version.evidence_of(kind)
    if len(items) != 1:
        have = "none" if not items else str(len(items))
        raise InputError(f"drift needs exactly one {kind} evidence file; the version has {have}")
    return items[0]


class DriftThreshold:
    """Every compared feature's drift statistic is within the threshold."""

    type_name: ClassVar[str] = "drift.threshold"
    Params: ClassVar[type[BaseModel]] = DriftParams

    def __init__(self, params: DriftParams) -> None:
        self.params = params

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        from ordinance.metrics.drift import compute_drift

        p = self.params
        ref, cur = _one(ctx, p.reference), _one(ctx, p.current)
        ref_path = ctx.evidence_path(ref)
        # the label is not a feature: leave the declared y_true out of the default features
        exclude = tuple(
            str(v) for e in (ref, cur) if isinstance(v := e.attributes.get("y_true"), str)
        )
        key = ("drift", ref.sha256, cur.sha256, p.features, p.bins, exclude)
        from ordinance.metrics._sql import declared_sql

        sql = declared_sql(cur.attributes, f"{p.current} {cur.name!r}")
        current = sql if sql is not None else ctx.evidence_path(cur)
        report = ctx.memo(
            key,
            lambda: compute_drift(
                ref_path, current, features=p.features, bins=p.bins, exclude=exclude
            ),
        )
        values = {f.name: f.value(p.statistic) for f in report.features}
        scores = {n: v for n, v in values.items() if v is not None}
        skipped = sorted(n for n, v in values.items() if v is None)
        threshold = {"statistic": p.statistic, "max": p.max, "min": p.min}
        evidence = [ref.sha256, cur.sha256]
        if not scores:
            return RuleResult.errored(
                f"no feature has a {p.statistic} (categorical features have no KS)",
                measured={"not_compared": skipped},
                threshold=threshold,
                evidence=evidence,
            )
        if p.min is not None:
            worst = min(scores, key=lambda n: scores[n])
            bad = sorted(n for n, v in scores.items() if v < p.min)
            bound = f">= {fmt(p.min)}"
        else:
            assert p.max is not None
            worst = max(scores, key=lambda n: scores[n])
            bad = sorted(n for n, v in scores.items() if v > p.max)
            bound = f"<= {fmt(p.max)}"
        measured = {
            "value": scores[worst],
            "worst": worst,
            "features": scores,
            "not_compared": skipped,
        }
        if bad:
            shown = ", ".join(f"{n} {fmt(scores[n])}" for n in bad)
            return RuleResult.failed(
                f"{p.statistic} not {bound}: {shown}",
                measured=measured,
                threshold=threshold,
                evidence=evidence,
            )
        return RuleResult.passed(
            f"{p.statistic} {bound} for {len(scores)} features "
            f"(worst {worst} {fmt(scores[worst])})",
            measured=measured,
            threshold=threshold,
            evidence=evidence,
        )

    def describe(self) -> str:
        p = self.params
        which = "every shared feature" if p.features is None else ", ".join(p.features)
        bound = f"at most {fmt(p.max)}" if p.max is not None else f"at least {fmt(p.min)}"
        return (
            f"the {_NAMES[p.statistic]} of {which} between the {p.reference} and {p.current} "
            f"evidence is {bound}"
        )

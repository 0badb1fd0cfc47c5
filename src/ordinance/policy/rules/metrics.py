"""``metrics.threshold``: a registered metric within bounds, and no worse than the champion."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field, model_validator

from ordinance.policy.context import RuleContext
from ordinance.policy.results import RuleResult
from ordinance.policy.rules._base import Params, fmt


class MetricThresholdParams(Params):
    metric: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    #: largest allowed drop versus the champion (the version now in the target stage)
    max_regression: float | None = Field(default=None, ge=0)
    higher_is_better: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> MetricThresholdParams:
        if self.min is None and self.max is None and self.max_regression is None:
            raise ValueError("give at least one of min, max or max_regression")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class MetricThreshold:
    """``metrics[metric]`` within ``[min, max]``; optionally at most ``max_regression`` worse
    than the champion's value (champion/challenger)."""

    type_name: ClassVar[str] = "metrics.threshold"
    Params: ClassVar[type[BaseModel]] = MetricThresholdParams

    def __init__(self, params: MetricThresholdParams) -> None:
        self.params = params

    def _threshold(self) -> dict[str, Any]:
        p = self.params
        out: dict[str, Any] = {}
        for key in ("min", "max", "max_regression"):
            if getattr(p, key) is not None:
                out[key] = getattr(p, key)
        return out

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        p = self.params
        threshold = self._threshold()
        value = ctx.version.metrics.get(p.metric)
        if value is None:
            return RuleResult.errored(
                f"metric {p.metric!r} is not registered for this version", threshold=threshold
            )
        measured: dict[str, Any] = {"value": value}
        problems: list[str] = []
        if p.min is not None and value < p.min:
            problems.append(f"{p.metric} {fmt(value)} < min {fmt(p.min)}")
        if p.max is not None and value > p.max:
            problems.append(f"{p.metric} {fmt(value)} > max {fmt(p.max)}")
        notes = [f"{p.metric} {fmt(value)}"]
        if p.max_regression is not None:
            champion = ctx.champion()
            if champion is None:
                notes.append(f"no champion in {ctx.stage} to compare with")
                measured["champion"] = None
            else:
                theirs = champion.metrics.get(p.metric)
                if theirs is None:
                    return RuleResult.errored(
                        f"champion {champion.ref} has no metric {p.metric!r} to compare with",
                        measured=measured,
                        threshold=threshold,
                    )
                regression = (theirs - value) if p.higher_is_better else (value - theirs)
                measured["champion"] = {"version": champion.version, "value": theirs}
                measured["regression"] = regression
                notes.append(f"champion {champion.version} {fmt(theirs)}")
                if regression > p.max_regression:
                    problems.append(
                        f"regresses {fmt(regression)} vs champion {champion.version} "
                        f"({fmt(theirs)}) > max_regression {fmt(p.max_regression)}"
                    )
        if problems:
            return RuleResult.failed("; ".join(problems), measured=measured, threshold=threshold)
        return RuleResult.passed(", ".join(notes), measured=measured, threshold=threshold)

    def describe(self) -> str:
        p = self.params
        parts = []
        if p.min is not None:
            parts.append(f"at least {fmt(p.min)}")
        if p.max is not None:
            parts.append(f"at most {fmt(p.max)}")
        text = f"the registered metric {p.metric}"
        if parts:
            text += f" is {' and '.join(parts)}"
        if p.max_regression is not None:
            direction = "lower" if p.higher_is_better else "higher"
            text += (
                f"{' and' if parts else ''} is no more than {fmt(p.max_regression)} {direction} "
                "than the champion's (the version currently in the target stage)"
            )
        return text

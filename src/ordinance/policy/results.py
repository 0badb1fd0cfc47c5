"""What a rule says about a version: a status with the measured value, never a boolean.

A rule type returns a :class:`RuleResult` (status, measured value, threshold, the evidence
digests it read and a one-line detail). The engine wraps it into a
:class:`~ordinance.policy.evaluate.Finding` with the rule's id, severity, message and any waiver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The outcome of one rule on one version."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WARN = "warn"
    WAIVED = "waived"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"


@dataclass(frozen=True)
class RuleResult:
    """One rule type's verdict on one version.

    ``measured`` and ``threshold`` are JSON values (numbers, strings, lists, dicts or
    ``None``); ``evidence`` holds the SHA-256 digests of the evidence files the rule read.
    Rule types return ``pass``, ``fail``, ``not_applicable`` or ``error``; the engine turns a
    ``fail`` of a ``warn``-severity rule into ``warn`` and applies waivers.
    """

    status: Status
    detail: str
    measured: Any = None
    threshold: Any = None
    evidence: tuple[str, ...] = field(default=())

    @classmethod
    def passed(
        cls,
        detail: str,
        *,
        measured: Any = None,
        threshold: Any = None,
        evidence: Sequence[str] = (),
    ) -> RuleResult:
        return cls(Status.PASS, detail, measured, threshold, tuple(evidence))

    @classmethod
    def failed(
        cls,
        detail: str,
        *,
        measured: Any = None,
        threshold: Any = None,
        evidence: Sequence[str] = (),
    ) -> RuleResult:
        return cls(Status.FAIL, detail, measured, threshold, tuple(evidence))

    @classmethod
    def errored(
        cls,
        detail: str,
        *,
        measured: Any = None,
        threshold: Any = None,
        evidence: Sequence[str] = (),
    ) -> RuleResult:
        """The rule could not decide (missing input, crash): blocks when severity is block."""
        return cls(Status.ERROR, detail, measured, threshold, tuple(evidence))

    @classmethod
    def not_applicable(cls, detail: str, *, threshold: Any = None) -> RuleResult:
        return cls(Status.NOT_APPLICABLE, detail, None, threshold, ())

    @classmethod
    def check(
        cls,
        ok: bool,
        detail: str,
        *,
        measured: Any = None,
        threshold: Any = None,
        evidence: Sequence[str] = (),
    ) -> RuleResult:
        """``pass`` if ``ok`` else ``fail``, with the same measured value and detail."""
        return cls(Status.PASS if ok else Status.FAIL, detail, measured, threshold, tuple(evidence))

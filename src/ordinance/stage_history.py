"""A model's stage history: every transition and denied attempt, and who held a stage when.

(Named ``stage_history`` so that ``ordinance.history`` is only ever the function.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ordinance.errors import InputError
from ordinance.stages import exclusive_stage
from ordinance.store._approval_tables import ts

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = ["History", "HistoryEvent", "history", "holder_at"]


@dataclass(frozen=True)
class HistoryEvent:
    """One transition (or denied attempt): who moved what, when, under which policy."""

    at: datetime
    version: str
    kind: str
    from_stage: str | None
    to_stage: str
    actor: str
    reason: str
    log_index: int | None
    details: dict[str, Any] = field(default_factory=dict)
    proof: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.details
        return {
            "at": ts(self.at),
            "version": self.version,
            "kind": self.kind,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "actor": self.actor,
            "reason": self.reason,
            "log_index": self.log_index,
            "verdict": d.get("verdict"),
            "policy": d.get("policy"),
            "approvals": d.get("approvals", []),
            "waivers": d.get("waivers", []),
            "evaluation_log_index": d.get("evaluationLogIndex"),
            "proof": self.proof,
        }


@dataclass(frozen=True)
class History:
    """A model's transitions and, for ``at``, which version held each stage then."""

    model: str
    events: tuple[HistoryEvent, ...]
    at: datetime | None = None
    stages_at: dict[str, list[str]] | None = None

    def holder(self, stage: str) -> str | None:
        """The version in ``stage`` at ``at`` (the newest if a stage holds several)."""
        if self.stages_at is None:
            raise InputError("this history was not computed for a point in time (use at=)")
        held = self.stages_at.get(stage) or []
        return held[-1] if held else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "at": None if self.at is None else ts(self.at),
            "stages_at": self.stages_at,
            "events": [e.to_dict() for e in self.events],
        }


def history(
    ws: Workspace, model: str, *, at: datetime | None = None, proofs: bool = False
) -> History:
    """Every transition of ``model`` (up to ``at``), optionally with tlog-proofs, and the
    stage of every version at ``at``."""
    registry = ws.registry()
    registry.get_model(model)
    log = ws.audit_log() if proofs else None
    events: list[HistoryEvent] = []
    for t in registry.transitions(model):
        if at is not None and t.at > at:
            continue
        proof = None
        if log is not None and t.log_index is not None:
            proof = log.prove(t.log_index)
        events.append(
            HistoryEvent(
                at=t.at,
                version=t.version,
                kind=t.kind,
                from_stage=t.from_stage,
                to_stage=t.to_stage,
                actor=t.actor,
                reason=t.reason,
                log_index=t.log_index,
                details=dict(t.details),
                proof=proof,
            )
        )
    stages_at = None
    if at is not None:
        stages_at = _stages_at(ws, model, events, at)
    return History(model, tuple(events), at, stages_at)


def _stages_at(
    ws: Workspace, model: str, events: Sequence[HistoryEvent], at: datetime
) -> dict[str, list[str]]:
    stage_of: dict[str, str] = {}
    for v in ws.registry().list_versions(model):
        if v.registered_at <= at:
            stage_of[v.version] = ws.config.initial_stage
    for e in events:
        if e.kind in ("denied", "aborted") or e.at > at:
            continue
        stage_of[e.version] = e.to_stage
    out: dict[str, list[str]] = {s: [] for s in ws.config.stages}
    for version, stage in stage_of.items():
        out.setdefault(stage, []).append(version)
    return out


def holder_at(ws: Workspace, model: str, at: datetime, stage: str | None = None) -> str | None:
    """Which version of ``model`` was in ``stage`` (default: production) at ``at``."""
    return history(ws, model, at=at).holder(stage or exclusive_stage(ws.config))

"""The gate: the one place that decides what governs a version's move into a stage.

Which policy packs apply to a stage, which roles its approvals need, which signed approvals
and waivers count, and the evaluation itself: ``check``, ``promote``, ``approve``, reports
and the Python API all ask this module, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ordinance.approvals.collect import Collected, collect_approvals, collect_waivers
from ordinance.model import ModelVersion

if TYPE_CHECKING:
    from ordinance.policy import Evaluation, PolicyPack
    from ordinance.workspace import Workspace

__all__ = [
    "DEFAULT_EXCLUSIVE_PACKS",
    "approval_notes",
    "collect_inputs",
    "evaluate_version",
    "policy_digests",
    "required_roles",
    "stage_packs",
]

#: Packs evaluated for an exclusive stage that has none configured (fail closed).
DEFAULT_EXCLUSIVE_PACKS: tuple[str, ...] = ("ordinance:baseline",)


def stage_packs(ws: Workspace, stage: str) -> tuple[PolicyPack, ...]:
    """The stage's configured packs (``ordinance:baseline`` for an unconfigured exclusive
    stage; none for other unconfigured stages)."""
    from ordinance.policy import load_packs

    refs = ws.config.policies.get(stage) or []
    if not refs and stage in ws.config.exclusive_stages:
        refs = list(DEFAULT_EXCLUSIVE_PACKS)
    return load_packs(refs, base=ws.home) if refs else ()


def policy_digests(ws: Workspace, stage: str) -> dict[str, str]:
    """``{pack name: sha256}`` of the policy packs configured for ``stage``."""
    from ordinance.policy import load_packs

    refs = ws.config.policies.get(stage, [])
    if not refs:
        return {}
    return {p.name: p.sha256 for p in load_packs(refs, base=ws.home)}


def required_roles(ws: Workspace, stage: str) -> frozenset[str]:
    """Every role an ``approvals.required`` rule of the stage's packs asks for."""
    from ordinance.policy import load_packs

    refs = ws.config.policies.get(stage, [])
    roles: set[str] = set()
    for pack in load_packs(refs, base=ws.home) if refs else ():
        for spec in pack.rules:
            if spec.type == "approvals.required":
                roles.update(dict(spec.params.get("roles") or {}))
    return frozenset(roles)


def collect_inputs(ws: Workspace, version: ModelVersion, stage: str, now: datetime) -> Collected:
    """Verified approvals for ``stage`` and waivers, with every rejection."""
    approvals, bad_a = collect_approvals(ws, version, stage, now)
    waivers, bad_w = collect_waivers(ws, version, now)
    return Collected(tuple(approvals), tuple(waivers), tuple(bad_a + bad_w))


def evaluate_version(
    ws: Workspace,
    version: ModelVersion,
    stage: str,
    packs: Sequence[PolicyPack],
    collected: Collected,
    now: datetime,
) -> Evaluation | None:
    """Evaluate every rule with the collected approvals and waivers injected."""
    from ordinance.policy import EvaluationContext, evaluate

    if not packs:
        return None
    ctx = EvaluationContext(
        now=now,
        evidence=ws.evidence,
        champion=ws.registry().find_version_in_stage,
        approvals=collected.approvals,
        waivers=collected.waivers,
    )
    return evaluate(version, stage, packs, ctx)


def approval_notes(evaluation: Evaluation) -> list[str]:
    """Why each rejected approval did not count (for a denial's reasons)."""
    notes: list[str] = []
    for f in evaluation.findings:
        if f.spec.type != "approvals.required" or not isinstance(f.result.measured, dict):
            continue
        for r in f.result.measured.get("rejected") or []:
            notes.append(f"approval by {r.get('approver')} does not count: {r.get('reason')}")
    return notes

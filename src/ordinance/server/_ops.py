"""Server-side steps that sit between a request and the core."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ordinance.errors import InputError
from ordinance.tokens import AuthError

if TYPE_CHECKING:
    from ordinance.policy.evaluate import Evaluation
    from ordinance.server.auth import Principal
    from ordinance.signing import Envelope
    from ordinance.workspace import Workspace

DEFAULT_PACKS = ("ordinance:baseline",)


def run_check(ws: Workspace, model: str, version: str, stage: str, now: datetime) -> Evaluation:
    """What ``ordinance check`` evaluates: the stage's configured packs, the recorded
    approvals and signed waivers (the same inputs a promotion sees)."""
    from ordinance.policy import EvaluationContext, evaluate, load_packs
    from ordinance.promote import collect_inputs

    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}: one of {', '.join(ws.config.stages)}")
    packs = load_packs(ws.config.policies.get(stage) or list(DEFAULT_PACKS), base=ws.home)
    registry = ws.registry()
    target = registry.get_version(model, version)
    collected = collect_inputs(ws, target, stage, now)
    ctx = EvaluationContext(
        now=now,
        evidence=ws.evidence,
        champion=registry.find_version_in_stage,
        approvals=collected.approvals,
        waivers=collected.waivers,
    )
    return evaluate(target, stage, packs, ctx)


def parse_envelope(data: Mapping[str, Any]) -> Envelope:
    from ordinance.signing import Envelope

    try:
        return Envelope.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"envelope: not a DSSE envelope: {exc}") from None


def check_submitter(
    ws: Workspace,
    who: Principal,
    env: Envelope,
    model: str,
    version: str,
    now: datetime,
    verb: str,
) -> None:
    """Before anything is written: the envelope's signer must be the caller's own roster
    identity, and not the version's author (separation of duties)."""
    from ordinance.approvals import roster_at

    v = ws.registry().get_version(model, version)
    found = roster_at(ws, now).signer_of(env)
    if found is None:
        raise AuthError(
            f"the envelope is not signed by a key in the roster; {verb} refused", status=403
        )
    member, _key = found
    if who.scope != "admin" and member.id != who.identity:
        raise AuthError(
            f"signed by {member.id} but submitted by {who.identity}: members submit what they "
            f"sign themselves; {verb} refused",
            status=403,
        )
    if member.id == v.author:
        raise AuthError(
            f"{member.id} is the author of {v.ref} and may not {verb} it "
            "(separation of duties); nothing recorded",
            status=403,
        )

"""Server-side steps that sit between a request and the core."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ordinance.errors import AuthError, InputError

if TYPE_CHECKING:
    from ordinance.gate import GateResult
    from ordinance.server.auth import Principal
    from ordinance.signing import Envelope
    from ordinance.workspace import Workspace


def run_check(ws: Workspace, model: str, version: str, stage: str, now: datetime) -> GateResult:
    """What ``ordinance check`` asks: the gate's verdict for the stage (the same decision a
    promotion takes)."""
    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}: one of {', '.join(ws.config.stages)}")
    target = ws.registry().get_version(model, version)
    return ws.gate().evaluate(target, stage, now)


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

"""Signed waivers: a waiver-role holder's DSSE-signed exemption of one rule for one version.

A waiver (predicate ``https://ordinance.dev/waiver/v1``) names exactly one version and one
rule, expires, and carries a justification; its signer must hold a waiver role and must not
be the version's author.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ordinance._canonical import sha256_hex
from ordinance.approvals._base import (
    WAIVER_ROLES,
    ApprovalRecord,
    ApprovalRefused,
    _check_signed,
    _Checked,
    _log_refusal,
    _member_for,
    _record_signed,
    _sign_statement,
    approvals_store,
)
from ordinance.approvals.roster import roster_at
from ordinance.errors import ConflictError, InputError
from ordinance.model import ModelVersion
from ordinance.records import WaiverStatement
from ordinance.signing import Envelope, Signer
from ordinance.store._approval_tables import ts

if TYPE_CHECKING:
    from ordinance.workspace import Workspace


def waiver_statement(
    version: ModelVersion,
    *,
    waiver_id: str,
    rule: str,
    justification: str,
    approver: str,
    signed_at: datetime,
    expires_at: datetime,
    stages: Sequence[str] | None = None,
) -> dict[str, Any]:
    return WaiverStatement.of(
        version,
        waiver_id=waiver_id,
        rule=rule,
        justification=justification,
        approver=approver,
        signed_at=signed_at,
        expires_at=expires_at,
        stages=None if stages is None else tuple(stages),
    ).to_statement()


def sign_waiver(
    version: ModelVersion,
    signer: Signer,
    approver: str,
    *,
    rule: str,
    justification: str,
    expires_at: datetime,
    now: datetime,
    stages: Sequence[str] | None = None,
    waiver_id: str | None = None,
) -> Envelope:
    wid = waiver_id or f"W-{version.model.name}-{version.version}-{rule}"
    stmt = waiver_statement(
        version,
        waiver_id=wid,
        rule=rule,
        justification=justification,
        approver=approver,
        signed_at=now,
        expires_at=expires_at,
        stages=stages,
    )
    return _sign_statement(stmt, signer)


def record_waiver(
    ws: Workspace, envelope: Envelope, *, model: str, version: str, now: datetime
) -> ApprovalRecord:
    """Verify a signed waiver (signer holds a waiver role, is not the author) and log it."""
    v = ws.registry().get_version(model, version)
    raw = envelope.to_bytes()
    claim = {"model": model, "version": version}
    try:
        checked = _check_signed(
            envelope,
            record_type=WaiverStatement,
            version=v,
            stage=None,
            roster=roster_at(ws, now),
            recorded_at=now,
        )
        _check_waiver_fields(checked, v, WAIVER_ROLES)
    except ApprovalRefused as exc:
        index = _log_refusal(ws, v, "waiver", raw, exc.message, claim, now)
        where = f" (refusal logged at entry {index})" if index is not None else ""
        raise ApprovalRefused(f"waiver refused: {exc.message}{where}") from None
    waiver = checked.record
    digest = sha256_hex(raw)
    store = approvals_store(ws)
    if store.by_digest(digest) is not None:
        raise ConflictError(f"this waiver ({digest[:12]}…) is already recorded")
    return _record_signed(
        ws,
        store,
        "waiver",
        raw,
        digest,
        checked,
        model,
        version,
        ",".join(waiver.stages) if waiver.stages else "",
        waiver.rule,
        now,
    )


def _check_waiver_fields(
    checked: _Checked[WaiverStatement], v: ModelVersion, roles: frozenset[str]
) -> None:
    waiver = checked.record
    if not checked.member.roles & roles:
        held = ", ".join(sorted(checked.member.roles)) or "no roles"
        raise ApprovalRefused(
            f"{checked.member.id} holds {held}; waivers need one of {', '.join(sorted(roles))}"
        )
    if checked.member.id == v.author:
        raise ApprovalRefused(f"{checked.member.id} is the version's author and cannot waive")
    if not waiver.rule:
        raise ApprovalRefused("the waiver names no rule")
    if not waiver.id:
        raise ApprovalRefused("the waiver has no id")
    if len(waiver.justification.strip()) < 10:
        raise ApprovalRefused("a waiver needs a justification of at least 10 characters")


def waive(
    ws: Workspace,
    model: str,
    version: str,
    rule: str,
    justification: str,
    expires_at: datetime,
    signer: Signer,
    *,
    stages: Sequence[str] | None = None,
    waiver_id: str | None = None,
    now: datetime | None = None,
) -> ApprovalRecord:
    """Sign a waiver of ``rule`` for exactly ``model@version`` and record it."""
    now = now or datetime.now(UTC)
    if expires_at <= now:
        raise InputError(f"the waiver would already be expired ({ts(expires_at)})")
    for s in stages or ():
        if s not in ws.config.stages:
            raise InputError(f"unknown stage {s!r}")
    v = ws.registry().get_version(model, version)
    member = _member_for(roster_at(ws, now), signer)
    env = sign_waiver(
        v,
        signer,
        member.id if member is not None else signer.name,
        rule=rule,
        justification=justification,
        expires_at=expires_at,
        now=now,
        stages=stages,
        waiver_id=waiver_id,
    )
    return record_waiver(ws, env, model=model, version=version, now=now)

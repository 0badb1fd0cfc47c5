"""Signed approvals: an approver's DSSE-signed statement that a version may enter a stage.

An approval is an in-toto statement (predicate ``https://ordinance.dev/approval/v1``) over the
version's identity digest, naming the version, the target stage, the policy digests in force
and the time, signed by the approver's own key. It is appended to the audit log verbatim and
indexed. Submissions that fail are refused (:class:`ApprovalRefused`, exit 1) and the refusal
is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordinance._canonical import sha256_hex
from ordinance.approvals._base import (
    ApprovalRecord,
    ApprovalRefused,
    _check_signed,
    _log_refusal,
    _member_for,
    _record_signed,
    _sign_statement,
    approvals_store,
)
from ordinance.approvals.roster import roster_at
from ordinance.errors import ConflictError, InputError
from ordinance.model import ModelVersion
from ordinance.records import ApprovalStatement
from ordinance.signing import Envelope, Signer

if TYPE_CHECKING:
    from ordinance.workspace import Workspace


def approval_statement(
    version: ModelVersion,
    stage: str,
    approver: str,
    *,
    signed_at: datetime,
    policies: Mapping[str, str],
    expires_at: datetime | None = None,
    comment: str = "",
) -> dict[str, Any]:
    """The in-toto statement an approver signs: bound to the identity, version and stage."""
    return ApprovalStatement.of(
        version,
        stage,
        approver,
        signed_at=signed_at,
        policies=policies,
        expires_at=expires_at,
        comment=comment,
    ).to_statement()


def sign_approval(
    version: ModelVersion,
    stage: str,
    signer: Signer,
    approver: str,
    *,
    now: datetime,
    policies: Mapping[str, str] | None = None,
    expires_at: datetime | None = None,
    comment: str = "",
) -> Envelope:
    """Build and DSSE-sign an approval statement (pure: nothing is stored)."""
    stmt = approval_statement(
        version,
        stage,
        approver,
        signed_at=now,
        policies=policies or {},
        expires_at=expires_at,
        comment=comment,
    )
    return _sign_statement(stmt, signer)


def record_approval(
    ws: Workspace,
    envelope: Envelope,
    *,
    model: str,
    version: str,
    stage: str,
    now: datetime,
) -> ApprovalRecord:
    """Verify a signed approval for ``model@version`` → ``stage`` and record it in the log.

    Refused (and the refusal logged) when: the key is not in the roster now; the signed
    subject, version or stage differ from the claim (replay); the signer names someone else;
    or the signer holds none of the roles the stage's approval rules ask for.
    """
    from ordinance.gate import required_roles

    v = ws.registry().get_version(model, version)
    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}; stages are {', '.join(ws.config.stages)}")
    raw = envelope.to_bytes()
    claim = {"model": model, "version": version, "stage": stage}
    roster = roster_at(ws, now)
    try:
        checked = _check_signed(
            envelope,
            record_type=ApprovalStatement,
            version=v,
            stage=stage,
            roster=roster,
            recorded_at=now,
        )
        needed = required_roles(ws, stage, v)
        if needed and not checked.member.roles & needed:
            held = ", ".join(sorted(checked.member.roles)) or "no roles"
            raise ApprovalRefused(
                f"{checked.member.id} holds {held}; approvals for {stage} need one of "
                f"{', '.join(sorted(needed))}"
            )
    except ApprovalRefused as exc:
        index = _log_refusal(ws, v, "approval", raw, exc.message, claim, now)
        where = f" (refusal logged at entry {index})" if index is not None else ""
        raise ApprovalRefused(f"approval refused: {exc.message}{where}") from None
    digest = sha256_hex(raw)
    store = approvals_store(ws)
    if store.by_digest(digest) is not None:
        raise ConflictError(f"this approval ({digest[:12]}…) is already recorded")
    return _record_signed(
        ws, store, "approval", raw, digest, checked, model, version, stage, "", now
    )


def approve(
    ws: Workspace,
    model: str,
    version: str,
    stage: str,
    signer: Signer,
    comment: str = "",
    *,
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> ApprovalRecord:
    """Sign an approval of ``model@version`` for ``stage`` with ``signer`` and record it.

    The approver is the roster member holding the signer's key (an unknown key still signs,
    so that the refusal names it and is logged).
    """
    from ordinance.gate import policy_digests

    now = now or datetime.now(UTC)
    v = ws.registry().get_version(model, version)
    member = _member_for(roster_at(ws, now), signer)
    approver = member.id if member is not None else signer.name
    env = sign_approval(
        v,
        stage,
        signer,
        approver,
        now=now,
        policies=policy_digests(ws, stage, v),
        expires_at=None if expires_in is None else now + expires_in,
        comment=comment,
    )
    return record_approval(ws, env, model=model, version=version, stage=stage, now=now)

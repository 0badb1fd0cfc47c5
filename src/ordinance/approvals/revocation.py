"""Revocations: an approval or waiver withdrawn by its approver (or a revoker role holder)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ordinance.approvals._base import (
    REVOKER_ROLES,
    ApprovalRefused,
    _append_envelope,
    _member_for,
    _sign_statement,
    approvals_store,
)
from ordinance.approvals.roster import roster_at
from ordinance.errors import InputError, NotFoundError
from ordinance.records import Revocation, Subject
from ordinance.signing import Envelope, Signer, VerifierKey, pae
from ordinance.store._approval_tables import ApprovalStore, SignedRow

if TYPE_CHECKING:
    from ordinance.workspace import Workspace


def revoke(
    ws: Workspace,
    digest: str,
    signer: Signer,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> int:
    """Revoke the approval or waiver whose envelope has this SHA-256 (a unique prefix works).

    The revocation is signed by ``signer``, who must be its approver or hold a revoker role.
    Returns the log index of the revocation.
    """
    now = now or datetime.now(UTC)
    store = approvals_store(ws)
    row = _find_signed(store, digest)
    member = _member_for(roster_at(ws, now), signer)
    if member is None:
        raise ApprovalRefused(f"revocation refused: key {signer.key_id} is not in the roster")
    if member.id != row.approver and not member.roles & REVOKER_ROLES:
        raise ApprovalRefused(
            f"revocation refused: {member.id} is neither the approver ({row.approver}) nor "
            f"holds {', '.join(sorted(REVOKER_ROLES))}"
        )
    stmt = Revocation(
        subject=Subject(f"{row.model}@{row.version}", _identity_of(row)),
        revokes_sha256=row.digest,
        revokes_kind=row.kind,
        revoker=member.id,
        reason=reason,
        revoked_at=now,
    ).to_statement()
    env = _sign_statement(stmt, signer)
    with ws.write_transaction("recording the revocation") as conn:
        index = _append_envelope(ws, env, conn)
        store.add_revocation(
            approval_digest=row.digest,
            revoker=member.id,
            reason=reason,
            revoked_at=now,
            envelope=env.to_bytes(),
            log_index=index,
            conn=conn,
        )
    return index


def find_own(
    ws: Workspace, model: str, version: str, stage: str, signer: Signer, kind: str = "approval"
) -> list[str]:
    """Digests of the signer's recorded approvals of ``model@version`` for ``stage``."""
    out = []
    for row in approvals_store(ws).signed(model, version, kind):
        if kind == "approval" and row.stage != stage:
            continue
        env = Envelope.from_bytes(row.envelope)
        msg = pae(env.payload_type, env.payload)
        vk = VerifierKey(signer.name, signer.sigtype, signer.public_key)
        if any(vk.verify(msg, s.sig) for s in env.signatures):
            out.append(row.digest)
    return out


def _find_signed(store: ApprovalStore, digest: str) -> SignedRow:
    if not re.fullmatch(r"[0-9a-f]{8,64}", digest):
        raise InputError(f"{digest!r} is not a SHA-256 (hex, at least 8 digits)")
    row = store.by_digest(digest) if len(digest) == 64 else None
    if row is None and len(digest) < 64:
        raise InputError("give the full SHA-256 of the approval (see `ordinance approvals`)")
    if row is None:
        raise NotFoundError(f"no approval or waiver with digest {digest}")
    return row


def _identity_of(row: SignedRow) -> str:
    try:
        stmt = json.loads(Envelope.from_bytes(row.envelope).payload)
        return str(stmt["subject"][0]["digest"]["sha256"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "0" * 64

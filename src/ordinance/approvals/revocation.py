"""Revocations: an approval or waiver withdrawn by its approver (or a revoker role holder)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
    row = _find_signed(approvals_store(ws), digest)
    member = _member_for(roster_at(ws, now), signer)
    if member is None:
        raise ApprovalRefused(f"revocation refused: key {signer.key_id} is not in the roster")
    stmt = revocation_statement(
        model=row.model,
        version=row.version,
        identity=_identity_of(row),
        digest=row.digest,
        kind=row.kind,
        revoker=member.id,
        reason=reason,
        now=now,
    )
    return record_revocation(ws, _sign_statement(stmt, signer), now=now)


def revocation_statement(
    *,
    model: str,
    version: str,
    identity: str,
    digest: str,
    kind: str,
    revoker: str,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    """The in-toto statement a revoker signs to withdraw the approval or waiver ``digest``
    of ``model@version`` (whose identity is ``identity``)."""
    return Revocation(
        subject=Subject(f"{model}@{version}", identity),
        revokes_sha256=digest,
        revokes_kind=kind,
        revoker=revoker,
        reason=reason,
        revoked_at=now,
    ).to_statement()


def record_revocation(ws: Workspace, envelope: Envelope, *, now: datetime) -> int:
    """Verify a signed revocation (made here or on the revoker's own machine) and record it.

    Refused unless the statement reads as a revocation, names a recorded approval or waiver
    that is not already revoked with that approval's subject and kind, is signed by a roster
    key of the revoker it names, and that revoker is the approver or holds a revoker role.
    Returns the log index.
    """
    try:
        rec = Revocation.from_statement(json.loads(envelope.payload))
    except (ValueError, InputError) as exc:
        raise ApprovalRefused(
            f"revocation refused: the signed statement does not read: {exc}"
        ) from None
    store = approvals_store(ws)
    row = _find_signed(store, rec.revokes_sha256)
    if len(rec.revokes_sha256) != 64:
        raise ApprovalRefused("revocation refused: it must name the full SHA-256")
    if rec.subject != Subject(f"{row.model}@{row.version}", _identity_of(row)):
        raise ApprovalRefused(
            f"revocation refused: its subject is {rec.subject.name}, not the revoked "
            f"{row.kind}'s ({row.model}@{row.version})"
        )
    if rec.revokes_kind != row.kind:
        raise ApprovalRefused(f"revocation refused: {row.digest[:12]}… is a {row.kind}")
    found = roster_at(ws, now).signer_of(envelope)
    if found is None:
        raise ApprovalRefused("revocation refused: it is not signed by a key in the roster")
    member = found[0]
    if member.id != rec.revoker:
        raise ApprovalRefused(
            f"revocation refused: signed by {member.id}, but it names {rec.revoker}"
        )
    if member.id != row.approver and not member.roles & REVOKER_ROLES:
        raise ApprovalRefused(
            f"revocation refused: {member.id} is neither the approver ({row.approver}) nor "
            f"holds {', '.join(sorted(REVOKER_ROLES))}"
        )
    if store.revocations([row.digest]):
        raise ApprovalRefused(f"revocation refused: {row.digest[:12]}… is already revoked")
    with ws.write_transaction("recording the revocation") as conn:
        index = _append_envelope(ws, envelope, conn)
        store.add_revocation(
            approval_digest=row.digest,
            revoker=member.id,
            reason=rec.reason,
            revoked_at=rec.revoked_at,
            envelope=envelope.to_bytes(),
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

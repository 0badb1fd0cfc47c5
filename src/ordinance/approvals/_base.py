"""What the approval modules share: the refusal error, role constants, logging helpers,
the verification of one signed envelope against a claim, and recording it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ordinance import uris
from ordinance._bounds import check_time
from ordinance._canonical import canonical_json, sha256_hex
from ordinance.errors import InfrastructureError, InputError, VerificationError
from ordinance.model import ModelVersion
from ordinance.records import (
    ApprovalRefusal,
    ApprovalStatement,
    DeclineStatement,
    Subject,
    WaiverStatement,
)
from ordinance.signing import PAYLOAD_TYPE_INTOTO, Envelope, Signer, VerifierKey, sign_envelope
from ordinance.store._approval_tables import ApprovalStore, ts

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ordinance.approvals.roster import Member, Roster
    from ordinance.workspace import Workspace


#: A refused submission (unknown key, missing role, replay, …), logged for the audit trail.
APPROVAL_REFUSED = uris.APPROVAL_REFUSED
#: A signed revocation of an approval or waiver.
REVOCATION = uris.REVOCATION
#: Roles whose holders may sign waivers.
WAIVER_ROLES: frozenset[str] = frozenset({"risk-officer"})
#: Roles whose holders may revoke someone else's approval or waiver.
REVOKER_ROLES: frozenset[str] = frozenset({"risk-officer"})
#: Roles whose holders must sign roster changes once the roster names any of them.
ROSTER_ADMIN_ROLES: frozenset[str] = frozenset({"roster-admin"})
#: How far a signature's claimed time may lie after the time Ordinance recorded it.
CLOCK_SKEW = timedelta(minutes=5)


class ApprovalRefused(VerificationError):
    """A signed approval, waiver or revocation was refused (exit 1)."""


def approvals_store(ws: Workspace) -> ApprovalStore:
    return ApprovalStore(ws.engine(), guard=ws.ledger())


def _require_log(ws: Workspace) -> None:
    if not ws.can_log():
        raise InfrastructureError(
            f"the workspace has no log key at {ws.log_key_path}: approvals must be logged"
        )


def _append(ws: Workspace, stmt: dict[str, Any], conn: Connection | None = None) -> int:
    """Log ``stmt``; with ``conn``, inside that transaction (with the rows that index it)."""
    _require_log(ws)
    index = ws.append_to_log(stmt, conn=conn)
    assert index is not None  # the log key exists
    return index


def _append_envelope(ws: Workspace, env: Envelope, conn: Connection | None = None) -> int:
    return _append_bytes(ws, env.to_bytes(), conn)


def _append_bytes(ws: Workspace, raw: bytes, conn: Connection | None = None) -> int:
    _require_log(ws)
    log = ws.audit_log()
    if conn is not None:
        return log.append_envelopes_in(conn, [raw])[0]
    return log.append_envelopes([raw])[0]


def _sign_statement(stmt: Mapping[str, Any], signer: Signer) -> Envelope:
    return sign_envelope(canonical_json(dict(stmt)), PAYLOAD_TYPE_INTOTO, [signer])


def _ts_or_none(t: datetime | None) -> str | None:
    return None if t is None else ts(t)


# --------------------------------------------------------------------------- rejections


@dataclass(frozen=True)
class Rejected:
    """A signed approval, waiver or revocation that does not count, and why."""

    kind: str
    digest: str
    approver: str
    reason: str
    log_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "digest": self.digest,
            "approver": self.approver,
            "reason": self.reason,
            "log_index": self.log_index,
        }


def _log_refusal(
    ws: Workspace,
    version: ModelVersion,
    kind: str,
    envelope: bytes,
    reason: str,
    claimed: Mapping[str, Any],
    now: datetime,
) -> int | None:
    """Log a refused submission (signed by the log key, not by the submitter)."""
    if not ws.can_log():
        return None
    stmt = ApprovalRefusal(
        subject=Subject.of(version),
        kind=kind,
        reason=reason,
        claimed=dict(claimed),
        envelope_sha256=sha256_hex(envelope),
        refused_at=now,
    ).to_statement()
    return _append(ws, stmt)


@dataclass(frozen=True)
class ApprovalRecord:
    """A recorded approval or waiver: the digest of its envelope and where it was logged."""

    kind: str
    digest: str
    model: str
    version: str
    stage: str
    approver: str
    roles: frozenset[str]
    signed_at: datetime
    expires_at: datetime | None
    log_index: int | None
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "digest": self.digest,
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "rule": self.rule,
            "approver": self.approver,
            "roles": sorted(self.roles),
            "signed_at": ts(self.signed_at),
            "expires_at": _ts_or_none(self.expires_at),
            "log_index": self.log_index,
        }


#: The signed record an envelope must hold (an approval, a waiver or a decline).
R = TypeVar("R", ApprovalStatement, WaiverStatement, DeclineStatement)


@dataclass(frozen=True)
class _Checked(Generic[R]):
    """A signed approval, waiver or decline that verified: who signed it and the typed
    record."""

    member: Member
    key: VerifierKey
    record: R

    @property
    def signed_at(self) -> datetime:
        return self.record.signed_at

    @property
    def expires_at(self) -> datetime | None:
        """When it expires (a decline does not)."""
        if isinstance(self.record, DeclineStatement):
            return None
        return self.record.expires_at


def _check_signed(
    envelope: Envelope,
    *,
    record_type: type[R],
    version: ModelVersion,
    stage: str | None,
    roster: Roster,
    recorded_at: datetime,
) -> _Checked[R]:
    """Verify one signed approval/waiver envelope against a claim; raise with the reason.

    The payload is read as the typed record (:meth:`Record.from_statement`): a statement that
    does not read as one (a missing field, a bad time) is refused with the reason, never
    half-read from a dict.
    """
    predicate_type = record_type.PREDICATE_TYPE
    if envelope.payload_type != PAYLOAD_TYPE_INTOTO:
        raise ApprovalRefused(f"payload type {envelope.payload_type!r} is not in-toto")
    found = roster.signer_of(envelope)
    if found is None:
        hints = ", ".join(s.keyid or "?" for s in envelope.signatures) or "none"
        raise ApprovalRefused(
            f"signed by an unknown key ({hints}): no key in the roster at {ts(recorded_at)} "
            "verifies the signature"
        )
    member, key = found
    try:
        stmt = json.loads(envelope.payload)
    except (ValueError, UnicodeDecodeError):
        raise ApprovalRefused("the signed payload is not JSON") from None
    if not isinstance(stmt, dict) or stmt.get("_type") != uris.STATEMENT_TYPE:
        raise ApprovalRefused("the signed payload is not an in-toto statement")
    if stmt.get("predicateType") != predicate_type:
        raise ApprovalRefused(f"predicate type {stmt.get('predicateType')!r}, not {predicate_type}")
    if not isinstance(stmt.get("predicate"), dict):
        raise ApprovalRefused("the statement has no predicate")
    digests = {
        (s.get("digest") or {}).get("sha256")
        for s in stmt.get("subject") or []
        if isinstance(s, dict)
    }
    if version.identity.sha256 not in digests:
        raise ApprovalRefused(
            f"the signed subject digest does not match {version.ref} "
            f"(identity sha256:{version.identity.sha256[:12]}…): replayed for another version?"
        )
    try:
        record = record_type.from_statement(stmt)
    except InputError as exc:
        raise ApprovalRefused(f"the signed statement does not read: {exc.message}") from None
    if (record.model, record.version) != (version.model.name, version.version):
        raise ApprovalRefused(
            f"signed for {record.model}@{record.version}, not {version.ref} (replay refused)"
        )
    if stage is not None and not isinstance(record, WaiverStatement) and record.stage != stage:
        raise ApprovalRefused(f"signed for stage {record.stage!r}, not {stage!r} (replay refused)")
    if record.approver != member.id:
        raise ApprovalRefused(
            f"signed with {member.id}'s key but names {record.approver!r} as approver"
        )
    if record.signed_at > recorded_at + CLOCK_SKEW:
        raise ApprovalRefused(
            f"signed at {ts(record.signed_at)}, after it was recorded ({ts(recorded_at)})"
        )
    return _Checked(member, key, record)


def _record_signed(
    ws: Workspace,
    store: ApprovalStore,
    kind: str,
    raw: bytes,
    digest: str,
    checked: _Checked[ApprovalStatement] | _Checked[WaiverStatement],
    model: str,
    version: str,
    stage: str,
    rule: str,
    now: datetime,
) -> ApprovalRecord:
    """Log a checked approval or waiver and index it, in one transaction."""
    with ws.write_transaction(f"recording the {kind}") as conn:
        index = _append_bytes(ws, raw, conn)
        store.add_signed(
            kind=kind,
            digest=digest,
            model=model,
            version=version,
            stage=stage,
            rule=rule,
            approver=checked.member.id,
            key_id=checked.key.key_id,
            signed_at=checked.signed_at,
            recorded_at=now,
            expires_at=checked.expires_at,
            envelope=raw,
            log_index=index,
            conn=conn,
        )
    return ApprovalRecord(
        kind=kind,
        digest=digest,
        model=model,
        version=version,
        stage=stage,
        approver=checked.member.id,
        roles=checked.member.roles,
        signed_at=checked.signed_at,
        expires_at=checked.expires_at,
        log_index=index,
        rule=rule,
    )


def _member_for(roster: Roster, signer: Signer) -> Member | None:
    for m in roster.members:
        for k in m.keys:
            if k.public_key == signer.public_key and k.name == signer.name:
                return m
    return None


def parse_when(text: str, *, end_of_day: bool = True) -> datetime:
    """An ISO date (``2026-01-31``: the end of that day, UTC) or timestamp (UTC if naive)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = datetime.fromisoformat(text).replace(tzinfo=UTC)
            check_time(d)
            return d + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else d
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        check_time(t)
    except ValueError as exc:
        why = str(exc) if "year must be" in str(exc) else "use ISO 8601, e.g. 2026-01-31"
        raise InputError(f"bad date {text!r}: {why}") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

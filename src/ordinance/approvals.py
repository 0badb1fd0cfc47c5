"""The roster, roles, signed approvals and signed waivers.

* The **roster** (a YAML file, ``kind: Roster``) lists identities, their public keys (vkey
  strings from ``ordinance keys generate``) and their roles. Applying a roster logs a
  ``roster-change`` entry (its digest, the whole document and the diff) and keeps it in the
  roster history, so the roles a key held at any past moment can be looked up.
* An **approval** is an in-toto statement (predicate ``https://ordinance.dev/approval/v1``)
  over the version's identity digest, naming the version, the target stage, the policy
  digests in force and the time, DSSE-signed by the approver's own key. It is appended to the
  audit log verbatim and indexed.
* A **waiver** is the same for one rule of one version (predicate
  ``https://ordinance.dev/waiver/v1``), signed by a member holding a waiver role.
* A **revocation** names an approval or waiver by the digest of its envelope and is signed by
  its approver (or a risk officer).

Every use re-verifies from the stored envelope bytes (:func:`collect_approvals`,
:func:`collect_waivers`): the signature against the keys the roster held *when the approval
was recorded*, the subject digest, model, version and stage against the indexed claim, and the
approver's roles at that time. What fails is returned as a :class:`Rejected` with a reason,
never silently dropped. Submissions that fail are refused (:class:`ApprovalRefused`, exit 1)
and the refusal is logged.

All times are injected (``now``); nothing here reads the wall clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordinance import statements, uris
from ordinance._canonical import canonical_json, sha256_hex
from ordinance._yamlloc import load_document, parse_as
from ordinance.errors import (
    ConflictError,
    InfrastructureError,
    InputError,
    NotFoundError,
    PolicyLoadError,
    VerificationError,
)
from ordinance.model import ModelVersion
from ordinance.policy.context import Approval
from ordinance.policy.waivers import Waiver
from ordinance.signing import (
    PAYLOAD_TYPE_INTOTO,
    Envelope,
    Signer,
    VerifierKey,
    pae,
    parse_vkey,
    sign_envelope,
)
from ordinance.store._approval_tables import ApprovalStore, SignedRow, ts

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ordinance.workspace import Workspace

__all__ = [
    "APPROVAL_REFUSED",
    "REVOCATION",
    "REVOKER_ROLES",
    "ROSTER_ADMIN_ROLES",
    "WAIVER_ROLES",
    "ApprovalRecord",
    "ApprovalRefused",
    "Collected",
    "Member",
    "Rejected",
    "Roster",
    "RosterChange",
    "apply_roster",
    "approval_statement",
    "approvals_store",
    "approve",
    "collect_approvals",
    "collect_waivers",
    "current_roster",
    "find_own",
    "list_signed",
    "load_roster",
    "parse_roster",
    "parse_when",
    "policy_digests",
    "record_approval",
    "record_waiver",
    "required_roles",
    "revoke",
    "roster_at",
    "roster_diff",
    "roster_vkeys",
    "sign_approval",
    "sign_waiver",
    "verified_approvals",
    "waive",
    "waiver_statement",
]

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
ROSTER_SUBJECT = "ordinance:roster"


class ApprovalRefused(VerificationError):
    """A signed approval, waiver or revocation was refused (exit 1)."""


# --------------------------------------------------------------------------- the roster

_ROLE = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemberDoc(_Doc):
    id: str = Field(min_length=1, max_length=256, pattern=r"^\S+$")
    name: str = ""
    roles: tuple[str, ...] = ()
    keys: tuple[str, ...] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for r in v:
            if not re.match(_ROLE, r):
                raise ValueError(f"bad role name {r!r} (lowercase letters, digits, . _ -)")
        return v

    @field_validator("keys")
    @classmethod
    def _keys(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for k in v:
            try:
                parse_vkey(k)
            except InputError as exc:
                raise ValueError(exc.message) from None
        return v


class RosterDoc(_Doc):
    apiVersion: str = Field(pattern=r"^ordinance/v1$")
    kind: str = Field(pattern=r"^Roster$")
    members: tuple[MemberDoc, ...] = ()


@dataclass(frozen=True)
class Member:
    """One identity: its id (compare with a version's ``author``), keys and roles."""

    id: str
    roles: frozenset[str]
    keys: tuple[VerifierKey, ...]
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "roles": sorted(self.roles),
            "keys": sorted(k.vkey for k in self.keys),
        }


@dataclass(frozen=True)
class Roster:
    """Who may sign what: an immutable set of members. ``digest`` identifies the content."""

    members: tuple[Member, ...] = ()

    def __post_init__(self) -> None:
        ids: set[str] = set()
        owners: dict[str, str] = {}
        for m in self.members:
            if m.id in ids:
                raise InputError(f"roster lists {m.id!r} twice")
            ids.add(m.id)
            for k in m.keys:
                if k.vkey in owners:
                    raise InputError(f"key {k.key_id} belongs to both {owners[k.vkey]} and {m.id}")
                owners[k.vkey] = m.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "ordinance/v1",
            "kind": "Roster",
            "members": [m.to_dict() for m in sorted(self.members, key=lambda m: m.id)],
        }

    @property
    def digest(self) -> str:
        return sha256_hex(canonical_json(self.to_dict()))

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    def holders(self, roles: Iterable[str]) -> list[Member]:
        want = set(roles)
        return [m for m in self.members if m.roles & want]

    def signer_of(self, envelope: Envelope) -> tuple[Member, VerifierKey] | None:
        """The member (and key) whose key produced a valid signature on the envelope."""
        msg = pae(envelope.payload_type, envelope.payload)
        for sig in envelope.signatures:
            for m in self.members:
                for k in m.keys:
                    if (not sig.keyid or sig.keyid == k.key_id) and k.verify(msg, sig.sig):
                        return m, k
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Roster:
        """Rebuild a roster from :meth:`to_dict` output (e.g. from the roster history)."""
        return _build(RosterDoc.model_validate(dict(data)))


def _build(doc: RosterDoc) -> Roster:
    return Roster(
        tuple(
            Member(
                id=m.id,
                roles=frozenset(m.roles),
                keys=tuple(parse_vkey(k) for k in m.keys),
                name=m.name,
            )
            for m in doc.members
        )
    )


def parse_roster(text: str, source: str = "<roster>") -> Roster:
    """Parse roster YAML/JSON text; problems are located (``file:line:col: field``)."""
    data, locator = load_document(Path(source), PolicyLoadError, text=text)
    doc = parse_as(RosterDoc, data, locator, PolicyLoadError)
    seen: dict[str, int] = {}
    for i, m in enumerate(doc.members):
        if m.id in seen:
            raise PolicyLoadError(
                locator.locate(("members", i, "id")), f"duplicate member id {m.id!r}"
            )
        seen[m.id] = i
    try:
        return _build(doc)
    except InputError as exc:
        raise PolicyLoadError(locator.locate(("members",)), exc.message) from None


def load_roster(path: Path) -> Roster:
    """Read a roster file (``kind: Roster``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read roster {path}: {exc.strerror or exc}") from None
    return parse_roster(text, str(path))


def roster_diff(old: Roster, new: Roster) -> dict[str, Any]:
    """Members added and removed, and per member the roles and keys gained and lost."""
    before = {m.id: m for m in old.members}
    after = {m.id: m for m in new.members}
    changed: dict[str, Any] = {}
    for mid in sorted(before.keys() & after.keys()):
        a, b = before[mid], after[mid]
        ka, kb = {k.vkey for k in a.keys}, {k.vkey for k in b.keys}
        entry = {
            "roles_added": sorted(b.roles - a.roles),
            "roles_removed": sorted(a.roles - b.roles),
            "keys_added": sorted(kb - ka),
            "keys_removed": sorted(ka - kb),
        }
        if any(entry.values()):
            changed[mid] = entry
    return {
        "added": [after[m].to_dict() for m in sorted(after.keys() - before.keys())],
        "removed": sorted(before.keys() - after.keys()),
        "changed": changed,
    }


def approvals_store(ws: Workspace) -> ApprovalStore:
    return ApprovalStore(ws.engine())


def roster_at(ws: Workspace, at: datetime) -> Roster:
    """The roster in force at ``at`` (empty before the first ``roster apply``)."""
    rows = approvals_store(ws).rosters(until=at)
    if not rows:
        return Roster()
    return Roster.from_dict(rows[-1].document)


def roster_vkeys(ws: Workspace) -> list[str]:
    """Every key any roster ever listed: the ``entry_vkeys`` a deep log verification needs
    to check the approvers' own signatures on approval, waiver and revocation entries."""
    keys: set[str] = set()
    for row in approvals_store(ws).rosters():
        for m in Roster.from_dict(row.document).members:
            keys.update(k.vkey for k in m.keys)
    return sorted(keys)


def current_roster(ws: Workspace) -> Roster:
    rows = approvals_store(ws).rosters()
    return Roster() if not rows else Roster.from_dict(rows[-1].document)


@dataclass(frozen=True)
class RosterChange:
    digest: str
    previous_digest: str | None
    diff: dict[str, Any]
    applied_at: datetime
    actor: str
    log_index: int | None
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "previous_digest": self.previous_digest,
            "diff": self.diff,
            "applied_at": ts(self.applied_at),
            "actor": self.actor,
            "log_index": self.log_index,
            "changed": self.changed,
        }


def apply_roster(
    ws: Workspace,
    roster: Roster,
    *,
    actor: str,
    now: datetime,
    signer: Signer | None = None,
) -> RosterChange:
    """Make ``roster`` the roster in force from ``now``; log the change with its diff.

    Once the roster in force names a ``roster-admin``, a change must be signed by one of them
    (``signer``); before that the workspace operator bootstraps it (logged all the same).
    Applying an identical roster is a no-op.
    """
    store = approvals_store(ws)
    rows = store.rosters()
    if rows and rows[-1].applied_at > now:
        raise InputError("a roster change cannot predate the latest one (check the clock)")
    old = Roster() if not rows else Roster.from_dict(rows[-1].document)
    prev = rows[-1].digest if rows else None
    if prev == roster.digest:
        return RosterChange(roster.digest, prev, roster_diff(old, roster), now, actor, None, False)
    admins = old.holders(ROSTER_ADMIN_ROLES)
    diff = roster_diff(old, roster)
    predicate = {
        "digest": {"sha256": roster.digest},
        "previous": None if prev is None else {"sha256": prev},
        "roster": roster.to_dict(),
        "diff": diff,
        "actor": actor,
        "appliedAt": ts(now),
    }
    stmt = {
        "_type": statements.STATEMENT_TYPE,
        "subject": [{"name": ROSTER_SUBJECT, "digest": {"sha256": roster.digest}}],
        "predicateType": statements.ROSTER_CHANGE,
        "predicate": predicate,
    }
    if admins:
        if signer is None:
            raise ApprovalRefused(
                "the roster names roster admins; sign the change with one of their keys (--key)"
            )
        env = _sign_statement(stmt, signer)
        found = old.signer_of(env)
        if found is None or not found[0].roles & ROSTER_ADMIN_ROLES:
            raise ApprovalRefused(f"key {signer.key_id} is not a roster-admin key in the roster")
        envelope: Envelope | None = env
    else:
        envelope = _sign_statement(stmt, signer) if signer is not None else None
    with ws.write_transaction("roster change") as conn:
        index = (
            _append_envelope(ws, envelope, conn)
            if envelope is not None
            else _append(ws, stmt, conn)
        )
        store.add_roster(
            applied_at=now,
            digest=roster.digest,
            document=roster.to_dict(),
            diff=diff,
            actor=actor,
            log_index=index,
            conn=conn,
        )
    return RosterChange(roster.digest, prev, diff, now, actor, index, True)


# --------------------------------------------------------------------------- helpers


def _require_log(ws: Workspace) -> None:
    if not ws.log_key_path.is_file():
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


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is missing")
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"{what} has no timezone")
    return t.astimezone(UTC)


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
    if not ws.log_key_path.is_file():
        return None
    stmt = statements.statement(
        version,
        APPROVAL_REFUSED,
        {
            "kind": kind,
            "reason": reason,
            "claimed": dict(claimed),
            "envelope": {"sha256": sha256_hex(envelope)},
            "refusedAt": ts(now),
        },
    )
    return _append(ws, stmt)


# --------------------------------------------------------------------------- approvals


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
    return statements.statement(
        version,
        statements.APPROVAL,
        {
            "approver": approver,
            "model": version.model.name,
            "version": version.version,
            "stage": stage,
            "identity": {"sha256": version.identity.sha256},
            "policies": {k: {"sha256": v} for k, v in sorted(policies.items())},
            "signedAt": ts(signed_at),
            "expiresAt": _ts_or_none(expires_at),
            "comment": comment,
        },
    )


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


@dataclass(frozen=True)
class _Checked:
    member: Member
    key: VerifierKey
    predicate: dict[str, Any]
    signed_at: datetime
    expires_at: datetime | None


def _check_signed(
    envelope: Envelope,
    *,
    predicate_type: str,
    version: ModelVersion,
    stage: str | None,
    roster: Roster,
    recorded_at: datetime,
) -> _Checked:
    """Verify one signed approval/waiver envelope against a claim; raise with the reason."""
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
    if not isinstance(stmt, dict) or stmt.get("_type") != statements.STATEMENT_TYPE:
        raise ApprovalRefused("the signed payload is not an in-toto statement")
    if stmt.get("predicateType") != predicate_type:
        raise ApprovalRefused(f"predicate type {stmt.get('predicateType')!r}, not {predicate_type}")
    pred = stmt.get("predicate")
    if not isinstance(pred, dict):
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
    claimed = (pred.get("model"), pred.get("version"))
    if claimed != (version.model.name, version.version):
        raise ApprovalRefused(
            f"signed for {claimed[0]}@{claimed[1]}, not {version.ref} (replay refused)"
        )
    if stage is not None and pred.get("stage") != stage:
        raise ApprovalRefused(
            f"signed for stage {pred.get('stage')!r}, not {stage!r} (replay refused)"
        )
    if pred.get("approver") != member.id:
        raise ApprovalRefused(
            f"signed with {member.id}'s key but names {pred.get('approver')!r} as approver"
        )
    try:
        signed_at = _parse_time(pred.get("signedAt"), "signedAt")
        exp = pred.get("expiresAt") if "expiresAt" in pred else pred.get("expires")
        expires_at = None if exp is None else _parse_time(exp, "expiresAt")
    except ValueError as exc:
        raise ApprovalRefused(f"bad time in the signed statement: {exc}") from None
    if signed_at > recorded_at + CLOCK_SKEW:
        raise ApprovalRefused(
            f"signed at {ts(signed_at)}, after it was recorded ({ts(recorded_at)})"
        )
    return _Checked(member, key, pred, signed_at, expires_at)


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
    v = ws.registry().get_version(model, version)
    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}; stages are {', '.join(ws.config.stages)}")
    raw = envelope.to_bytes()
    claim = {"model": model, "version": version, "stage": stage}
    roster = roster_at(ws, now)
    try:
        checked = _check_signed(
            envelope,
            predicate_type=statements.APPROVAL,
            version=v,
            stage=stage,
            roster=roster,
            recorded_at=now,
        )
        needed = required_roles(ws, stage)
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


def _record_signed(
    ws: Workspace,
    store: ApprovalStore,
    kind: str,
    raw: bytes,
    digest: str,
    checked: _Checked,
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
        policies=policy_digests(ws, stage),
        expires_at=None if expires_in is None else now + expires_in,
        comment=comment,
    )
    return record_approval(ws, env, model=model, version=version, stage=stage, now=now)


# --------------------------------------------------------------------------- waivers


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
    return statements.statement(
        version,
        statements.WAIVER,
        {
            "id": waiver_id,
            "rule": rule,
            "model": version.model.name,
            "version": version.version,
            "stages": None if stages is None else sorted(stages),
            "justification": justification,
            "approver": approver,
            "signedAt": ts(signed_at),
            "expiresAt": ts(expires_at),
        },
    )


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
            predicate_type=statements.WAIVER,
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
    pred = checked.predicate
    assert checked.expires_at is not None
    digest = sha256_hex(raw)
    store = approvals_store(ws)
    if store.by_digest(digest) is not None:
        raise ConflictError(f"this waiver ({digest[:12]}…) is already recorded")
    stages = pred.get("stages")
    return _record_signed(
        ws,
        store,
        "waiver",
        raw,
        digest,
        checked,
        model,
        version,
        ",".join(stages) if stages else "",
        str(pred["rule"]),
        now,
    )


def _check_waiver_fields(checked: _Checked, v: ModelVersion, roles: frozenset[str]) -> None:
    pred = checked.predicate
    if not checked.member.roles & roles:
        held = ", ".join(sorted(checked.member.roles)) or "no roles"
        raise ApprovalRefused(
            f"{checked.member.id} holds {held}; waivers need one of {', '.join(sorted(roles))}"
        )
    if checked.member.id == v.author:
        raise ApprovalRefused(f"{checked.member.id} is the version's author and cannot waive")
    if checked.expires_at is None:
        raise ApprovalRefused("a waiver must expire")
    if not isinstance(pred.get("rule"), str) or not pred["rule"]:
        raise ApprovalRefused("the waiver names no rule")
    if not isinstance(pred.get("id"), str) or not pred["id"]:
        raise ApprovalRefused("the waiver has no id")
    just = pred.get("justification")
    if not isinstance(just, str) or len(just.strip()) < 10:
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


# --------------------------------------------------------------------------- revocation


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
    stmt = {
        "_type": statements.STATEMENT_TYPE,
        "subject": [
            {"name": f"{row.model}@{row.version}", "digest": {"sha256": _identity_of(row)}}
        ],
        "predicateType": REVOCATION,
        "predicate": {
            "revokes": {"sha256": row.digest, "kind": row.kind},
            "revoker": member.id,
            "reason": reason,
            "revokedAt": ts(now),
        },
    }
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


# --------------------------------------------------------------------------- collection


@dataclass(frozen=True)
class Collected:
    """Verified approvals (policy value objects) and waivers, plus every rejection."""

    approvals: tuple[Approval, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    rejected: tuple[Rejected, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "approvals": [a.to_dict() for a in self.approvals],
            "waivers": [w.to_dict() for w in self.waivers],
            "rejected": [r.to_dict() for r in self.rejected],
        }


def _revoked(ws: Workspace, rows: Sequence[SignedRow], now: datetime) -> dict[str, str]:
    """digest → who revoked it, for revocations in force at ``now`` that verify."""
    out: dict[str, str] = {}
    by_digest = {r.digest: r for r in rows}
    for rev in approvals_store(ws).revocations(list(by_digest)):
        if rev.revoked_at > now:
            continue
        env = Envelope.from_bytes(rev.envelope)
        found = roster_at(ws, rev.revoked_at).signer_of(env)
        row = by_digest[rev.approval_digest]
        if found is None:
            continue
        member = found[0]
        if member.id == row.approver or member.roles & REVOKER_ROLES:
            out[rev.approval_digest] = member.id
    return out


def collect_approvals(
    ws: Workspace, version: ModelVersion, stage: str, now: datetime
) -> tuple[list[Approval], list[Rejected]]:
    """Every recorded approval of ``version`` for ``stage``, re-verified from its envelope.

    Roles are those the roster gave the signer when the approval was recorded. Revoked and
    expired approvals are returned (flagged) so the policy rule reports them by name.
    """
    rows = [
        r
        for r in approvals_store(ws).signed(version.model.name, version.version, "approval")
        if r.stage == stage and r.recorded_at <= now
    ]
    revoked = _revoked(ws, rows, now)
    good: list[Approval] = []
    bad: list[Rejected] = []
    for r in rows:
        try:
            env = Envelope.from_bytes(r.envelope)
            if sha256_hex(r.envelope) != r.digest:
                raise ApprovalRefused("stored envelope does not match its digest")
            c = _check_signed(
                env,
                predicate_type=statements.APPROVAL,
                version=version,
                stage=stage,
                roster=roster_at(ws, r.recorded_at),
                recorded_at=r.recorded_at,
            )
        except (ApprovalRefused, InputError) as exc:
            bad.append(Rejected("approval", r.digest, r.approver, exc.message, r.log_index))
            continue
        good.append(
            Approval(
                approver=c.member.id,
                roles=c.member.roles,
                model=version.model.name,
                version=version.version,
                identity_sha256=version.identity.sha256,
                stage=str(c.predicate["stage"]),
                signed_at=c.signed_at,
                expires_at=c.expires_at,
                revoked=r.digest in revoked,
                digest=r.digest,
                comment=str(c.predicate.get("comment") or ""),
            )
        )
    return good, bad


def verified_approvals(
    ws: Workspace, version: ModelVersion, stage: str, now: datetime | None = None
) -> list[Approval]:
    """The approvals that verify (for ``ordinance check``); rejections are dropped here."""
    return collect_approvals(ws, version, stage, now or datetime.now(UTC))[0]


def collect_waivers(
    ws: Workspace, version: ModelVersion, now: datetime
) -> tuple[list[Waiver], list[Rejected]]:
    """Recorded, verified, unrevoked waivers of ``version`` as policy ``Waiver`` objects."""
    rows = [
        r
        for r in approvals_store(ws).signed(version.model.name, version.version, "waiver")
        if r.recorded_at <= now
    ]
    revoked = _revoked(ws, rows, now)
    good: list[Waiver] = []
    bad: list[Rejected] = []
    for r in rows:
        if r.digest in revoked:
            bad.append(Rejected("waiver", r.digest, r.approver, f"revoked by {revoked[r.digest]}"))
            continue
        try:
            env = Envelope.from_bytes(r.envelope)
            if sha256_hex(r.envelope) != r.digest:
                raise ApprovalRefused("stored envelope does not match its digest")
            c = _check_signed(
                env,
                predicate_type=statements.WAIVER,
                version=version,
                stage=None,
                roster=roster_at(ws, r.recorded_at),
                recorded_at=r.recorded_at,
            )
            _check_waiver_fields(c, version, WAIVER_ROLES)
        except (ApprovalRefused, InputError) as exc:
            bad.append(Rejected("waiver", r.digest, r.approver, exc.message, r.log_index))
            continue
        p = c.predicate
        assert c.expires_at is not None
        stages = p.get("stages")
        good.append(
            Waiver(
                id=str(p["id"]),
                rule=str(p["rule"]),
                model=version.model.name,
                versions=version.version,
                justification=str(p["justification"]).strip(),
                approved_by=c.member.id,
                expires_at=c.expires_at,
                stages=None if not stages else tuple(str(s) for s in stages),
                approved_at=c.signed_at,
                origin=f"log/{r.log_index}" if r.log_index is not None else "signed",
                digest=r.digest,
            )
        )
    return good, bad


def list_signed(ws: Workspace, model: str, version: str | None = None) -> list[dict[str, Any]]:
    """Index rows of a model's approvals and waivers, with revocation status (for display)."""
    store = approvals_store(ws)
    rows = store.signed(model, version)
    revs = {r.approval_digest: r for r in store.revocations([r.digest for r in rows])}
    out = []
    for r in rows:
        rev = revs.get(r.digest)
        out.append(
            {
                "kind": r.kind,
                "digest": r.digest,
                "model": r.model,
                "version": r.version,
                "stage": r.stage,
                "rule": r.rule,
                "approver": r.approver,
                "signed_at": ts(r.signed_at),
                "expires_at": _ts_or_none(r.expires_at),
                "log_index": r.log_index,
                "revoked": None
                if rev is None
                else {"by": rev.revoker, "at": ts(rev.revoked_at), "reason": rev.reason},
            }
        )
    return out


def parse_when(text: str, *, end_of_day: bool = True) -> datetime:
    """An ISO date (``2026-01-31``: the end of that day, UTC) or timestamp (UTC if naive)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return d + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else d
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"bad date {text!r}: use ISO 8601, e.g. 2026-01-31") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

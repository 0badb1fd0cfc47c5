"""The roster: who holds which keys and roles, applied as logged roster changes.

The roster (a YAML file, ``kind: Roster``) lists identities, their public keys (vkey strings
from ``ordinance keys generate``) and their roles. Applying a roster logs a ``roster-change``
entry (its digest, the whole document and the diff) and keeps it in the roster history, so
the roles a key held at any past moment can be looked up (:func:`roster_at`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordinance._canonical import canonical_json, sha256_hex
from ordinance._yamlloc import Locator, load_document, parse_as
from ordinance.approvals._base import (
    CLOCK_SKEW,
    ROSTER_ADMIN_ROLES,
    ApprovalRefused,
    _append,
    _append_envelope,
    _require_log,
    _sign_statement,
    approvals_store,
)
from ordinance.errors import InputError, PolicyLoadError
from ordinance.records import ROSTER_SUBJECT, Subject
from ordinance.records import RosterChange as RosterChangeRecord
from ordinance.signing import (
    PAYLOAD_TYPE_INTOTO,
    Envelope,
    Signer,
    VerifierKey,
    pae,
    parse_vkey,
    sign_envelope,
)
from ordinance.store._approval_tables import ApprovalStore, ts

if TYPE_CHECKING:
    from ordinance.workspace import Workspace


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
    return _parse_roster(data, locator)


def _parse_roster(data: Any, locator: Locator) -> Roster:
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
    data, locator = load_document(Path(path), PolicyLoadError)
    return _parse_roster(data, locator)


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


def roster_at(ws: Workspace, at: datetime) -> Roster:
    """The roster in force at ``at`` (empty before the first ``roster apply``)."""
    return roster_in_force(approvals_store(ws), at)


def roster_in_force(store: ApprovalStore, at: datetime) -> Roster:
    """The roster in force at ``at``, read from the approval store."""
    rows = store.rosters(until=at)
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


def roster_change_statement(
    old: Roster, previous: str | None, roster: Roster, *, actor: str, now: datetime
) -> dict[str, Any]:
    """The statement a roster admin signs to replace ``old`` (digest ``previous``) by
    ``roster``: the new document, its digest and the diff."""
    return RosterChangeRecord(
        subject=Subject(ROSTER_SUBJECT, roster.digest),
        roster_sha256=roster.digest,
        previous_sha256=previous,
        roster=roster.to_dict(),
        diff=roster_diff(old, roster),
        actor=actor,
        applied_at=now,
    ).to_statement()


def record_roster_change(ws: Workspace, envelope: Envelope, *, now: datetime) -> RosterChange:
    """Verify a roster change signed by a roster admin (here or on the admin's own machine)
    and make it the roster in force.

    Refused unless the statement reads as a roster change whose roster document has the
    digest it claims, it follows the roster in force now (no lost update), its diff is that
    roster's diff, it is not dated in the future or before the latest change, and a key of a
    ``roster-admin`` in the roster in force signed it.
    """
    try:
        rec = RosterChangeRecord.from_statement(json.loads(envelope.payload))
        roster = Roster.from_dict(dict(rec.roster))
    except (ValueError, InputError) as exc:
        raise ApprovalRefused(f"roster change refused: it does not read: {exc}") from None
    store = approvals_store(ws)
    rows = store.rosters()
    old = Roster() if not rows else Roster.from_dict(rows[-1].document)
    prev = rows[-1].digest if rows else None
    if roster.digest != rec.roster_sha256 or rec.subject != Subject(ROSTER_SUBJECT, roster.digest):
        raise ApprovalRefused("roster change refused: the roster does not have the digest it names")
    if rec.previous_sha256 != prev:
        raise ApprovalRefused(
            f"roster change refused: it replaces roster {str(rec.previous_sha256)[:12]}…, but "
            f"the roster in force is {str(prev)[:12]}… (someone changed it since: start again)"
        )
    if dict(rec.diff) != roster_diff(old, roster):
        raise ApprovalRefused("roster change refused: its diff is not the roster's diff")
    if rec.applied_at > now + CLOCK_SKEW or (rows and rec.applied_at < rows[-1].applied_at):
        raise ApprovalRefused("roster change refused: its time is out of order (check the clock)")
    if prev == roster.digest:
        return RosterChange(roster.digest, prev, {}, rec.applied_at, rec.actor, None, False)
    found = old.signer_of(envelope)
    if found is None or not found[0].roles & ROSTER_ADMIN_ROLES:
        keys = ", ".join(sig.keyid or "?" for sig in envelope.signatures) or "no key"
        raise ApprovalRefused(
            f"roster change refused: key {keys} is not a roster-admin key in the roster"
        )
    with ws.write_transaction("roster change") as conn:
        index = _append_envelope(ws, envelope, conn)
        store.add_roster(
            applied_at=rec.applied_at,
            digest=roster.digest,
            document=roster.to_dict(),
            diff=dict(rec.diff),
            actor=rec.actor,
            log_index=index,
            conn=conn,
        )
    return RosterChange(roster.digest, prev, dict(rec.diff), rec.applied_at, rec.actor, index, True)


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
    stmt = roster_change_statement(old, prev, roster, actor=actor, now=now)
    if admins:
        if signer is None:
            raise ApprovalRefused(
                "the roster names roster admins; sign the change with one of their keys (--key)"
            )
        return record_roster_change(ws, _sign_statement(stmt, signer), now=now)
    if signer is not None:
        # bootstrap (no roster admin yet): the operator's log key vouches for the change too
        _require_log(ws)
        envelope: Envelope | None = sign_envelope(
            canonical_json(dict(stmt)), PAYLOAD_TYPE_INTOTO, [signer, ws.audit_log().signer]
        )
    else:
        envelope = None
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

"""What the log's entries mean, re-checked in log order from the log alone (``--deep``).

A structurally valid log proves *which bytes* the log key signed. This module checks that
those bytes make sense as a governance record, with no input but the entries themselves and
the log key chain:

* **Keys come from the log.** Approver, waiver-signer and roster-admin keys are the keys the
  log's own ``roster-change`` entries enrolled. The first roster (bootstrap, while no member
  holds ``roster-admin``) is signed by the log key; once a roster names roster admins, every
  change must be signed by one of *their* keys as of the roster in force.
* **Time is log position.** "At that time" means "as of this entry": the roster in force for
  entry *i* is the one set by the last roster change before *i*; the log key active for entry
  *i* is the one set by the last key change before *i*. Signed timestamps inside statements
  are claims by their signers, not the log's clock (docs/log-format.md §"Time").
* **Each entry is signed by whom it must be.** Operator records (registration, evaluation,
  evidence, transition, refusal) by the active log key; an approval, waiver or revocation by a
  key the roster in force gives to the identity it names (never merely by the log key);
  a key change by the old and the new log key.
* **References resolve.** Approvals and waivers are of versions registered earlier in the
  log; a transition's approvals and waivers are earlier entries of the same version, by the
  approver they name, holding the roles the transition claims for them at the time they were
  recorded; a revocation revokes an earlier approval or waiver, by its approver or a revoker.
* **Waiver requests** (and their declines) are the operator's records, signed by the log key;
  a waiver that names a request (``request.sha256``) must grant an earlier request for the
  same version and rule, and a declined request must be an earlier request.
* **Declines.** A decline (an approver's signed "no", with a reason) is checked like an
  approval: signed by the approver it names, of a version this log registered, never by its
  author; it is never counted as an approval.
* **Separation of duties.** A waiver is never signed by the version's author; an evaluation
  that applied separation of duties never counts the author's approval, and counts only
  approvals the log holds, with roles the roster gave; a roster change needs a roster admin
  once there is one; someone else's approval is revoked only by a holder of a revoker role.
* **Recorded tree heads.** A transition records the log head its decision was taken against;
  it must be a checkpoint this log signed (same size, same root) and precede the transition.
  A holder of the log key who rewrites history and re-signs every checkpoint is caught here
  unless they also forge every later transition.

The checks are the rules Ordinance enforces when it writes (``ordinance.approvals``,
``ordinance.promote``); a test keeps the role names in step with that module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ordinance import uris
from ordinance.errors import InputError
from ordinance.log.facts import (
    MIN_JUSTIFICATION,
    ROSTER_SUBJECT,
    Facts,
    Malformed,
    _Member,
    _roster_members,
)
from ordinance.signing import VerifierKey, parse_vkey

__all__ = [
    "REVOKER_ROLES",
    "ROSTER_ADMIN_ROLES",
    "WAIVER_ROLES",
    "SemanticError",
    "SemanticState",
]

#: Roles whose holders may sign waivers (as ``ordinance.approvals.WAIVER_ROLES``).
WAIVER_ROLES: frozenset[str] = frozenset({"risk-officer"})
#: Roles whose holders may revoke someone else's approval or waiver.
REVOKER_ROLES: frozenset[str] = frozenset({"risk-officer"})
#: Roles whose holders must sign roster changes once the roster names any of them.
ROSTER_ADMIN_ROLES: frozenset[str] = frozenset({"roster-admin"})
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Predicate types the log key signs (the operator's own records).
OPERATOR_TYPES = frozenset(
    {
        uris.REGISTRATION,
        uris.VSA,
        uris.TRANSITION,
        uris.EVIDENCE,
        uris.APPROVAL_REFUSED,
        uris.WAIVER_REQUEST,
        uris.WAIVER_REQUEST_DECLINED,
    }
)
#: Predicate types signed by a roster member (deferred to this process's key lookup).
MEMBER_TYPES = frozenset({uris.APPROVAL, uris.DECLINE, uris.WAIVER, uris.REVOCATION})


class SemanticError(Exception):
    """An entry that parses but is not a valid governance record at its position."""


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _Signed:
    kind: str
    approver: str
    roles: frozenset[str]
    model: str
    version: str
    stage: str
    rule: str
    waiver_id: str
    index: int


Deferred = tuple[bytes, tuple[tuple[str, bytes], ...]]
"""(PAE message, ((key ID hint, signature), ...)) of signatures no log key accounted for."""


@dataclass
class SemanticState:
    """The log's meaning up to the current entry; :meth:`apply` each entry in order."""

    worker_keys: Sequence[VerifierKey]
    log_key: VerifierKey
    checkpoint_roots: Mapping[int, bytes] | None  # None: unknown (recorded heads unchecked)
    extra_keys: Sequence[VerifierKey] = ()
    roster: dict[str, _Member] = field(default_factory=dict)
    roster_digest: str | None = None
    registered: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)
    signed: dict[str, _Signed] = field(default_factory=dict)
    vsas: dict[int, str] = field(default_factory=dict)
    approved: dict[tuple[str, str, str, str], frozenset[str]] = field(default_factory=dict)
    requests: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    # ----------------------------------------------------------------- signatures

    def _log_signed(self, key: VerifierKey, mask: int, deferred: Deferred | None) -> bool:
        for bit, k in enumerate(self.worker_keys):
            if mask >> bit & 1 and k == key:
                return True
        return deferred is not None and any(
            _verifies(key, deferred[0], kid, sig) for kid, sig in deferred[1]
        )

    def _member_signers(self, deferred: Deferred | None, mask: int) -> dict[str, VerifierKey]:
        """Roster members (in force now) whose key made a valid signature; a bad one raises."""
        out: dict[str, VerifierKey] = {}
        for bit, k in enumerate(self.worker_keys):
            if mask >> bit & 1:
                for m in self.roster.values():
                    if k in m.keys:
                        out.setdefault(m.id, k)
        if deferred is None:
            return out
        msg, sigs = deferred
        for kid, sig in sigs:
            for m in self.roster.values():
                for k in m.keys:
                    if kid and kid != k.key_id:
                        continue
                    if k.verify(msg, sig):
                        out.setdefault(m.id, k)
                    elif kid:
                        raise SemanticError(f"bad DSSE signature by {m.id}'s key {kid}")
        return out

    def _require_log_key(self, ptype: str, mask: int, deferred: Deferred | None) -> None:
        if self._log_signed(self.log_key, mask, deferred):
            return
        what = ptype.rsplit("/", 2)[-2] if "/" in ptype else ptype
        raise SemanticError(
            f"{what} entry is not signed by the log key active at this entry "
            f"({self.log_key.name}+{self.log_key.key_id})"
        )

    # ----------------------------------------------------------------- entries

    def apply(
        self,
        index: int,
        ptype: str,
        mask: int,
        deferred: Deferred | None,
        facts: Facts | None,
        digest: str | None,
    ) -> None:
        """Check one entry at its position; raise :class:`SemanticError` with the reason."""
        if ptype in OPERATOR_TYPES:
            self._require_log_key(ptype, mask, deferred)
            if facts is None:
                return
            if ptype == uris.REGISTRATION:
                name, subj, author = facts
                if subj and subj not in self.registered:
                    self.registered[subj] = (name, author)
                    self.by_name.setdefault(name, subj)
            elif ptype == uris.VSA:
                self._evaluation(index, facts)
            elif ptype == uris.TRANSITION:
                self._transition(index, facts)
            elif ptype == uris.WAIVER_REQUEST and digest is not None:
                self.requests.setdefault(digest, facts)
            elif ptype == uris.WAIVER_REQUEST_DECLINED and facts[0] not in self.requests:
                raise SemanticError(
                    f"decline of waiver request {facts[0][:12]}…, which is no earlier request"
                )
            return
        if ptype == uris.KEY_CHANGE:
            self._key_change(facts, mask, deferred)
        elif ptype == uris.ROSTER_CHANGE:
            self._roster_change(facts, mask, deferred)
        elif ptype == uris.APPROVAL:
            self._approval(index, facts, deferred, digest, mask)
        elif ptype == uris.DECLINE:
            self._decline(facts, deferred, mask)
        elif ptype == uris.WAIVER:
            self._waiver(index, facts, deferred, digest, mask)
        elif ptype == uris.REVOCATION:
            self._revocation(facts, deferred, mask)
        else:
            # a predicate Ordinance does not define: the operator's, or an --entry-vkey's
            if self._log_signed(self.log_key, mask, deferred):
                return
            if any(self._log_signed(k, mask, deferred) for k in self.extra_keys):
                return
            raise SemanticError(
                f"entry of unknown type {ptype} is signed neither by the active log key nor "
                "by an --entry-vkey"
            )

    def _key_change(self, facts: Facts | None, mask: int, deferred: Deferred | None) -> None:
        assert facts is not None
        try:
            old, new = parse_vkey(facts[0]), parse_vkey(facts[1])
        except InputError as exc:
            raise SemanticError(f"invalid key-change entry: {exc.message}") from None
        if old != self.log_key:
            raise SemanticError(
                f"key change from {old.vkey}, but the active log key is {self.log_key.vkey}"
            )
        if new.name != old.name:
            raise SemanticError("key change to a key with another name (the log's origin)")
        for k, what in ((old, "old"), (new, "new")):
            if not self._log_signed(k, mask, deferred):
                raise SemanticError(f"key-change entry is not signed by its {what} key")
        self.log_key = new

    def _roster_change(self, facts: Facts | None, mask: int, deferred: Deferred | None) -> None:
        assert facts is not None
        name, subj, claimed, previous, doc = facts
        try:
            members, digest = _roster_members(doc)
        except Malformed as exc:
            raise SemanticError(f"invalid roster change: {exc}") from None
        if name != ROSTER_SUBJECT:
            raise SemanticError(f"roster change subject is {name!r}, not {ROSTER_SUBJECT!r}")
        if claimed != digest or subj != digest:
            raise SemanticError("roster change digest does not match the roster it carries")
        if previous != self.roster_digest:
            raise SemanticError(
                f"roster change says the previous roster was {_short(previous)}, but the "
                f"roster in force is {_short(self.roster_digest)} (a roster change is missing "
                "or forged)"
            )
        admins = [m for m in self.roster.values() if m.roles & ROSTER_ADMIN_ROLES]
        if admins:
            signers = self._member_signers(deferred, mask)
            if not any(m.id in signers for m in admins):
                who = ", ".join(sorted(m.id for m in admins))
                raise SemanticError(f"roster change not signed by a roster admin in force ({who})")
        elif not self._log_signed(self.log_key, mask, deferred):
            raise SemanticError(
                "roster change (no roster admin yet) is not signed by the active log key"
            )
        self.roster = members
        self.roster_digest = digest

    def _signer_named(self, what: str, named: str, deferred: Deferred | None, mask: int) -> _Member:
        member = self.roster.get(named)
        if member is None:
            raise SemanticError(
                f"{what} by {named}: {named} is not in the roster in force at this entry"
            )
        signers = self._member_signers(deferred, mask)
        if named not in signers:
            others = sorted(signers)
            if others:
                by = f"by {', '.join(others)}'s key"
            elif mask:
                by = "only by the log key"
            else:
                by = "by no key of the roster in force"
            raise SemanticError(f"{what} names {named} but is signed {by}")
        return member

    def _version(self, what: str, model: str, version: str, name: str, subj: str) -> str | None:
        ref = f"{model}@{version}"
        reg = self.registered.get(subj)
        if reg is None or reg[0] != ref or name != ref:
            raise SemanticError(
                f"{what} of {ref} (sha256:{subj[:12]}…), which this log never registered"
            )
        return reg[1]

    def _approval(
        self,
        index: int,
        facts: Facts | None,
        deferred: Deferred | None,
        digest: str | None,
        mask: int,
    ) -> None:
        assert facts is not None and digest is not None
        approver, model, version, stage, name, subj = facts
        member = self._signer_named("approval", approver, deferred, mask)
        self._version("approval", model, version, name, subj)
        self.signed.setdefault(
            digest,
            _Signed("approval", approver, member.roles, model, version, stage, "", "", index),
        )
        key = (model, version, stage, approver)
        self.approved[key] = self.approved.get(key, frozenset()) | member.roles

    def _decline(self, facts: Facts | None, deferred: Deferred | None, mask: int) -> None:
        """A decline is checked like an approval (signed by the approver it names, of a
        version this log registered) and needs a reason; it never enters ``approved``."""
        assert facts is not None
        approver, model, version, _stage, reason, name, subj = facts
        self._signer_named("decline", approver, deferred, mask)
        author = self._version("decline", model, version, name, subj)
        if author is not None and approver == author:
            raise SemanticError(
                f"decline signed by {approver}, the author of {model}@{version} "
                "(separation of duties)"
            )
        if len(reason.strip()) < MIN_JUSTIFICATION:
            raise SemanticError("decline reason is shorter than 10 characters")

    def _waiver(
        self,
        index: int,
        facts: Facts | None,
        deferred: Deferred | None,
        digest: str | None,
        mask: int,
    ) -> None:
        assert facts is not None and digest is not None
        approver, model, version, rule, wid, just, expires, name, subj, request = facts
        member = self._signer_named("waiver", approver, deferred, mask)
        if request is not None and self.requests.get(request) != (model, version, rule):
            raise SemanticError(
                f"waiver of {rule} for {model}@{version} grants request {request[:12]}…, which "
                "is no earlier request for that rule and version"
            )
        author = self._version("waiver", model, version, name, subj)
        if not member.roles & WAIVER_ROLES:
            held = ", ".join(sorted(member.roles)) or "no roles"
            raise SemanticError(
                f"waiver by {approver}, who holds {held} at this entry; waivers need one of "
                f"{', '.join(sorted(WAIVER_ROLES))}"
            )
        if author is not None and approver == author:
            raise SemanticError(
                f"waiver signed by {approver}, the author of {model}@{version} "
                "(separation of duties)"
            )
        if expires is None:
            raise SemanticError("waiver has no expiry")
        if len(just.strip()) < MIN_JUSTIFICATION:
            raise SemanticError("waiver justification is shorter than 10 characters")
        self.signed.setdefault(
            digest,
            _Signed("waiver", approver, member.roles, model, version, "", rule, wid, index),
        )

    def _revocation(self, facts: Facts | None, deferred: Deferred | None, mask: int) -> None:
        assert facts is not None
        revoker, target = facts
        member = self._signer_named("revocation", revoker, deferred, mask)
        rec = self.signed.get(target)
        if rec is None:
            raise SemanticError(
                f"revocation of {target[:12]}…, which is no earlier approval or waiver"
            )
        if revoker != rec.approver and not member.roles & REVOKER_ROLES:
            raise SemanticError(
                f"revocation of {rec.approver}'s {rec.kind} by {revoker}, who holds none of "
                f"{', '.join(sorted(REVOKER_ROLES))} (separation of duties)"
            )

    def _evaluation(self, index: int, facts: Facts) -> None:
        subj, stage, counted = facts
        self.vsas[index] = subj
        if not counted:
            return
        reg = self.registered.get(subj)
        if reg is None:
            raise SemanticError("evaluation of a version this log never registered")
        name, author = reg
        model, _, version = name.rpartition("@")
        for sod, approvers in counted:
            for approver, roles in approvers:
                if sod and author is not None and approver == author:
                    raise SemanticError(
                        f"evaluation counts an approval by {approver}, the author of {name} "
                        "(separation of duties)"
                    )
                held = self.approved.get((model, version, stage, approver))
                if held is None:
                    raise SemanticError(
                        f"evaluation counts an approval by {approver} of {name} for {stage}, "
                        "but no earlier approval entry holds one"
                    )
                missing = set(roles) - held
                if missing:
                    raise SemanticError(
                        f"evaluation counts {approver} as {', '.join(sorted(missing))}, a role "
                        "the roster did not give them when they approved"
                    )

    def _transition(self, index: int, facts: Facts) -> None:
        name, subj, kind, to_stage, head, approvals, waivers, ev, replaced = facts
        if subj not in self.registered or self.registered[subj][0] != name:
            raise SemanticError(f"transition of {name}, which this log never registered")
        if head is not None and self.checkpoint_roots is not None:
            size, root_hex = head
            if size > index:
                raise SemanticError(f"transition records log head {size}, beyond its own position")
            want = EMPTY_ROOT if size == 0 else self.checkpoint_roots.get(size)
            if want is None:
                raise SemanticError(
                    f"transition records log head {size}, but this log signed no checkpoint "
                    "of that size (history rewritten?)"
                )
            if want.hex() != root_hex:
                raise SemanticError(
                    f"transition records root {root_hex[:16]}… at size {size}, but the signed "
                    f"checkpoint {size} has root {want.hex()[:16]}… (history rewritten)"
                )
        model = name.rpartition("@")[0]
        target = name if kind != "demote" or replaced is None else f"{model}@{replaced}"
        target_version = target.rpartition("@")[2]
        if ev is not None:
            vsa = self.vsas.get(ev)
            if vsa is None or ev >= index:
                raise SemanticError(
                    f"transition cites evaluation entry {ev}, which is no earlier evaluation"
                )
            if vsa != self.by_name.get(target):
                raise SemanticError(
                    f"transition cites evaluation entry {ev}, which is about another version"
                )
        for approver, roles, digest in approvals:
            rec = self.signed.get(digest)
            if rec is None or rec.kind != "approval":
                raise SemanticError(
                    f"transition counts approval {digest[:12]}… by {approver}, which is no "
                    "earlier approval entry"
                )
            if rec.approver != approver:
                raise SemanticError(
                    f"transition attributes approval {digest[:12]}… to {approver}, but "
                    f"{rec.approver} signed it"
                )
            missing = set(roles) - rec.roles
            if missing:
                raise SemanticError(
                    f"transition claims {approver} held {', '.join(sorted(missing))}, but the "
                    f"roster in force at entry {rec.index} did not give it"
                )
            if (rec.model, rec.version) != (model, target_version) or (
                kind != "demote" and rec.stage != to_stage
            ):
                raise SemanticError(
                    f"transition counts approval {digest[:12]}… of "
                    f"{rec.model}@{rec.version} for {rec.stage}, not of {target}"
                )
        for wid, rule, digest in waivers:
            rec = self.signed.get(digest)
            if rec is None or rec.kind != "waiver":
                raise SemanticError(
                    f"transition applies waiver {wid or digest[:12]}, which is no earlier "
                    "waiver entry"
                )
            if (rec.model, rec.version) != (model, target_version) or rec.rule != rule:
                raise SemanticError(
                    f"transition applies waiver {wid or digest[:12]} of "
                    f"{rec.model}@{rec.version} ({rec.rule}), not of {target} ({rule})"
                )


def _short(digest: str | None) -> str:
    return "none" if digest is None else digest[:12] + "…"


def _verifies(key: VerifierKey, msg: bytes, kid: str, sig: bytes) -> bool:
    return (not kid or kid == key.key_id) and key.verify(msg, sig)


def keys_by_id(keys: Iterable[VerifierKey]) -> dict[str, list[VerifierKey]]:
    out: dict[str, list[VerifierKey]] = {}
    for k in keys:
        out.setdefault(k.key_id, []).append(k)
    return out

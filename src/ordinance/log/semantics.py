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
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ordinance import uris
from ordinance._canonical import canonical_json
from ordinance.errors import InputError
from ordinance.signing import VerifierKey, parse_vkey

__all__ = [
    "REVOKER_ROLES",
    "ROSTER_ADMIN_ROLES",
    "WAIVER_ROLES",
    "Malformed",
    "SemanticError",
    "SemanticState",
    "entry_facts",
    "strict_loads",
]

#: Roles whose holders may sign waivers (as ``ordinance.approvals.WAIVER_ROLES``).
WAIVER_ROLES: frozenset[str] = frozenset({"risk-officer"})
#: Roles whose holders may revoke someone else's approval or waiver.
REVOKER_ROLES: frozenset[str] = frozenset({"risk-officer"})
#: Roles whose holders must sign roster changes once the roster names any of them.
ROSTER_ADMIN_ROLES: frozenset[str] = frozenset({"roster-admin"})
#: The subject name of roster-change statements.
ROSTER_SUBJECT = "ordinance:roster"
EMPTY_ROOT = hashlib.sha256(b"").digest()
MIN_JUSTIFICATION = 10

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


class Malformed(ValueError):
    """An entry that does not parse strictly (duplicate keys, wrong types, missing fields)."""


class SemanticError(Exception):
    """An entry that parses but is not a valid governance record at its position."""


# --------------------------------------------------------------------------- strict JSON


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise Malformed(f"duplicate JSON key {k!r}")
            seen.add(k)
    return out


def _no_constant(name: str) -> Any:
    raise Malformed(f"{name} is not JSON")


_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def strict_loads(data: bytes | str) -> Any:
    """JSON as RFC 8259 I-JSON wants it: no duplicate keys, no NaN/Infinity.

    Fast path: canonical JSON (what Ordinance writes) that re-encodes to the same bytes
    cannot hold a duplicate key or a non-finite number; anything else is parsed again with
    a hook that refuses them.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        value = json.loads(raw)
        if _dumps(value).encode("utf-8") == raw:
            return value
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except Malformed:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Malformed(f"not JSON ({exc})") from None


# --------------------------------------------------------------------------- facts


def _str(pred: Mapping[str, Any], key: str, what: str, *, empty: bool = False) -> str:
    v = pred.get(key)
    if not isinstance(v, str) or (not empty and not v):
        raise Malformed(f"{what}: {key!r} must be a {'string' if empty else 'non-empty string'}")
    return v


def _sha(obj: Any, what: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get("sha256"), str):
        raise Malformed(f"{what} must be {{'sha256': <hex>}}")
    return str(obj["sha256"])


def _first_subject(stmt: Mapping[str, Any]) -> tuple[str, str]:
    first = stmt["subject"][0]
    name = first.get("name")
    digest = first["digest"].get("sha256")
    return (name if isinstance(name, str) else ""), (digest if isinstance(digest, str) else "")


Facts = tuple[Any, ...]


def entry_facts(ptype: str, stmt: Mapping[str, Any]) -> Facts | None:
    """The fields the semantic checks need from a checked in-toto statement (or ``None``).

    Raises :class:`Malformed` when a field those checks rely on is missing or mistyped.
    """
    pred = stmt.get("predicate")
    if ptype in _FACTS:
        if not isinstance(pred, dict):
            raise Malformed("the statement has no predicate object")
        return _FACTS[ptype](stmt, pred)
    return None


def _f_registration(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    name, digest = _first_subject(stmt)
    author = pred.get("author")
    return (name, digest, author if isinstance(author, str) else None)


def _f_key_change(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    return (_str(pred, "old_vkey", "key change"), _str(pred, "new_vkey", "key change"))


def _f_roster(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    name, digest = _first_subject(stmt)
    roster = pred.get("roster")
    if not isinstance(roster, dict):
        raise Malformed("roster change: 'roster' must be an object")
    prev = pred.get("previous")
    return (
        name,
        digest,
        _sha(pred.get("digest"), "roster change digest"),
        None if prev is None else _sha(prev, "roster change previous"),
        roster,
    )


def _f_approval(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    name, digest = _first_subject(stmt)
    w = "approval"
    return (
        _str(pred, "approver", w),
        _str(pred, "model", w),
        _str(pred, "version", w),
        _str(pred, "stage", w),
        name,
        digest,
    )


def _f_decline(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    name, digest = _first_subject(stmt)
    w = "decline"
    return (
        _str(pred, "approver", w),
        _str(pred, "model", w),
        _str(pred, "version", w),
        _str(pred, "stage", w),
        _str(pred, "reason", w, empty=True),
        name,
        digest,
    )


def _f_waiver(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    name, digest = _first_subject(stmt)
    w = "waiver"
    just = pred.get("justification")
    exp = pred.get("expiresAt")
    stages = pred.get("stages")
    if stages is not None and (
        not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)
    ):
        raise Malformed("waiver: 'stages' must be null or a list of strings")
    request = pred.get("request")
    return (
        _str(pred, "approver", w),
        _str(pred, "model", w),
        _str(pred, "version", w),
        _str(pred, "rule", w),
        _str(pred, "id", w),
        just if isinstance(just, str) else "",
        exp if isinstance(exp, str) else None,
        name,
        digest,
        None if request is None else _sha(request, "waiver 'request'"),
    )


def _f_waiver_request(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    w = "waiver request"
    return (_str(pred, "model", w), _str(pred, "version", w), _str(pred, "rule", w))


def _f_waiver_request_declined(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    return (_sha(pred.get("request"), "declined waiver request 'request'"),)


def _f_revocation(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    revokes = pred.get("revokes")
    return (_str(pred, "revoker", "revocation"), _sha(revokes, "revocation 'revokes'"))


def _f_vsa(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    """(subject digest, stage, ((separation of duties?, {approver: roles}), ...)).

    The approvals an ``approvals.required`` rule counted come from Ordinance's full result
    (``ordinanceEvaluation.result``, a JSON document); a VSA without one has none.
    """
    counted: list[tuple[bool, tuple[tuple[str, tuple[str, ...]], ...]]] = []
    stage = ""
    ev = pred.get("ordinanceEvaluation")
    if isinstance(ev, dict) and isinstance(ev.get("result"), str):
        doc = strict_loads(ev["result"])
        stage = str(ev.get("stage") or (doc.get("stage") if isinstance(doc, dict) else "") or "")
        for r in doc.get("results", []) if isinstance(doc, dict) else []:
            if not isinstance(r, dict) or r.get("type") != "approvals.required":
                continue
            measured: dict[str, Any] = r["measured"] if isinstance(r.get("measured"), dict) else {}
            threshold: dict[str, Any] = (
                r["threshold"] if isinstance(r.get("threshold"), dict) else {}
            )
            approvers = measured.get("approvers")
            if not isinstance(approvers, dict):
                continue
            sod = threshold.get("separation_of_duties", True) is not False
            counted.append(
                (
                    sod,
                    tuple(
                        (str(name), tuple(str(x) for x in roles) if isinstance(roles, list) else ())
                        for name, roles in sorted(approvers.items())
                    ),
                )
            )
    return (_first_subject(stmt)[1], stage, tuple(counted))


def _f_transition(stmt: Mapping[str, Any], pred: dict[str, Any]) -> Facts:
    name, digest = _first_subject(stmt)
    kind = _str(pred, "kind", "transition")
    head = pred.get("logHead")
    log_head: tuple[int, str] | None = None
    if head is not None:
        if (
            not isinstance(head, dict)
            or type(head.get("size")) is not int
            or not isinstance(head.get("root"), str)
        ):
            raise Malformed("transition: 'logHead' must be {size: int, root: hex}")
        log_head = (int(head["size"]), str(head["root"]))
    approvals = []
    for a in pred.get("approvals") or []:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("approver"), str)
            or not isinstance(a.get("digest"), str)
            or not isinstance(a.get("roles", []), list)
        ):
            raise Malformed("transition: each approval needs approver, roles and digest")
        approvals.append((a["approver"], tuple(str(r) for r in a.get("roles", [])), a["digest"]))
    waivers = []
    for w in pred.get("waivers") or []:
        if not isinstance(w, dict) or not isinstance(w.get("digest"), str):
            raise Malformed("transition: each waiver needs a digest")
        waivers.append((str(w.get("id", "")), str(w.get("rule", "")), w["digest"]))
    ev = pred.get("evaluationLogIndex")
    if ev is not None and type(ev) is not int:
        raise Malformed("transition: 'evaluationLogIndex' must be an integer or null")
    replaced = pred.get("replacedBy")
    to_stage = pred.get("toStage")
    return (
        name,
        digest,
        kind,
        to_stage if isinstance(to_stage, str) else "",
        log_head,
        tuple(approvals),
        tuple(waivers),
        ev,
        replaced if isinstance(replaced, str) else None,
    )


_FACTS = {
    uris.REGISTRATION: _f_registration,
    uris.KEY_CHANGE: _f_key_change,
    uris.ROSTER_CHANGE: _f_roster,
    uris.APPROVAL: _f_approval,
    uris.DECLINE: _f_decline,
    uris.WAIVER: _f_waiver,
    uris.WAIVER_REQUEST: _f_waiver_request,
    uris.WAIVER_REQUEST_DECLINED: _f_waiver_request_declined,
    uris.REVOCATION: _f_revocation,
    uris.VSA: _f_vsa,
    uris.TRANSITION: _f_transition,
}


# --------------------------------------------------------------------------- roster


@dataclass(frozen=True)
class _Member:
    id: str
    roles: frozenset[str]
    keys: tuple[VerifierKey, ...]


def _roster_members(doc: Mapping[str, Any]) -> tuple[dict[str, _Member], str]:
    """Members of a logged roster document and its digest (as ``Roster.digest`` computes it)."""
    members = doc.get("members")
    if doc.get("apiVersion") != "ordinance/v1" or doc.get("kind") != "Roster":
        raise Malformed("roster change: the roster is not an ordinance/v1 Roster")
    if not isinstance(members, list):
        raise Malformed("roster change: 'members' must be a list")
    out: dict[str, _Member] = {}
    owners: dict[bytes, str] = {}
    norm: list[dict[str, Any]] = []
    for m in members:
        if not isinstance(m, dict):
            raise Malformed("roster change: a member is not an object")
        mid = _str(m, "id", "roster member")
        roles, keys = m.get("roles", []), m.get("keys")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Malformed(f"roster member {mid}: 'roles' must be a list of strings")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise Malformed(f"roster member {mid}: 'keys' must be a non-empty list of vkeys")
        if mid in out:
            raise Malformed(f"roster lists {mid!r} twice")
        try:
            parsed = tuple(parse_vkey(k) for k in keys)
        except InputError as exc:
            raise Malformed(f"roster member {mid}: {exc.message}") from None
        for k in parsed:
            if k.public_key in owners:
                raise Malformed(f"key {k.key_id} belongs to both {owners[k.public_key]} and {mid}")
            owners[k.public_key] = mid
        out[mid] = _Member(mid, frozenset(roles), parsed)
        name = m.get("name", "")
        norm.append(
            {
                "id": mid,
                "name": name if isinstance(name, str) else "",
                "roles": sorted(roles),
                "keys": sorted(k.vkey for k in parsed),
            }
        )
    canonical = {
        "apiVersion": "ordinance/v1",
        "kind": "Roster",
        "members": sorted(norm, key=lambda d: str(d["id"])),
    }
    return out, hashlib.sha256(canonical_json(canonical)).hexdigest()


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

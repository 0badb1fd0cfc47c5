"""What each log entry says, read strictly: JSON without duplicate keys or NaN, the fields the
semantic checks rely on per predicate type (:func:`entry_facts`), and a logged roster's members
and digest. Anything missing or mistyped is :class:`Malformed`; what the facts *mean* at their
position in the log is :mod:`ordinance.log.semantics`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ordinance import uris
from ordinance._canonical import canonical_json
from ordinance.errors import InputError
from ordinance.signing import VerifierKey, parse_vkey

__all__ = ["Facts", "Malformed", "entry_facts", "strict_loads"]

#: The subject name of roster-change statements.
ROSTER_SUBJECT = "ordinance:roster"
MIN_JUSTIFICATION = 10


class Malformed(ValueError):
    """An entry that does not parse strictly (duplicate keys, wrong types, missing fields)."""


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

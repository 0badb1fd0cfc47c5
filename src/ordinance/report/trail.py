"""Governance and the log: recorded evaluations, signed approvals and waivers, transitions,
the signed audit trail of a version (signed statement times, verified signer identities)
and the checkpoint a document is built from.

Every time shown is the time inside a signed statement; every actor an identity whose
signature on that entry verifies (a name the statement merely states is an unsigned claim).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance.errors import NotFoundError, OrdinanceError, VerificationError
from ordinance.model import ModelVersion
from ordinance.report._format import norm_ts, ts

if TYPE_CHECKING:
    from ordinance.log.entries import LogEntry
    from ordinance.store.registry import TransitionRecord
    from ordinance.workspace import Workspace

__all__ = [
    "audit_trail",
    "entries_for",
    "entry_summary",
    "evaluation_row",
    "governance_of",
    "key_names",
    "log_state",
    "ordinance_version",
    "signed_rows",
    "signed_time",
    "transition_row",
]

_PREDICATES = {
    uris.REGISTRATION: "registration",
    uris.TRANSITION: "transition",
    uris.APPROVAL: "approval",
    uris.DECLINE: "decline",
    uris.WAIVER: "waiver",
    uris.WAIVER_REQUEST: "waiver request",
    uris.WAIVER_REQUEST_DECLINED: "waiver request declined",
    uris.EVIDENCE: "evidence",
    uris.ROSTER_CHANGE: "roster change",
    uris.KEY_CHANGE: "key change",
    uris.VSA: "policy evaluation",
    uris.REVOCATION: "revocation",
    uris.RENDERING: "rendering",
}
#: Where each predicate keeps the time its signer put in it (the report's one clock).
_SIGNED_TIME_FIELDS: tuple[str, ...] = (
    "at",
    "signedAt",
    "timeVerified",
    "registeredAt",
    "appliedAt",
    "revokedAt",
    "renderedAt",
    "rotatedAt",
)
#: Who the statement says acted (a claim unless a signature by that identity backs it).
_CLAIMED_ACTOR_FIELDS: tuple[str, ...] = ("approver", "actor", "author", "revoker")


def evaluation_row(row: Mapping[str, Any]) -> dict[str, Any]:
    result = row.get("result") or {}
    summary = result.get("summary") or {}
    return {
        "id": row.get("id"),
        "stage": row.get("stage"),
        "verdict": row.get("verdict"),
        "evaluated_at": norm_ts(row.get("evaluated_at")),
        "log_index": row.get("log_index"),
        "summary": {k: summary[k] for k in sorted(summary)},
        "policies": sorted(
            (
                {
                    "name": p.get("name"),
                    "version": p.get("version"),
                    "uri": p.get("uri"),
                    "sha256": p.get("sha256"),
                }
                for p in result.get("policies") or []
            ),
            key=lambda p: (str(p["name"]), str(p["sha256"])),
        ),
    }


def transition_row(t: TransitionRecord) -> dict[str, Any]:
    return {
        "model": t.model,
        "version": t.version,
        "from_stage": t.from_stage,
        "to_stage": t.to_stage,
        "kind": t.kind,
        "actor": t.actor,
        "at": ts(t.at),
        "reason": t.reason,
        "log_index": t.log_index,
    }


def signed_rows(ws: Workspace, model: str, version: str | None) -> list[dict[str, Any]]:
    """Approvals and waivers from the approvals index (empty if that part is absent)."""
    try:
        from ordinance.approvals import list_signed
    except ImportError:  # pragma: no cover - approvals not built into this version
        return []
    try:
        rows = list_signed(ws, model, version)
    except NotFoundError:
        return []
    out = []
    for r in rows:
        rev = r.get("revoked")
        out.append(
            {
                "kind": r.get("kind"),
                "digest": r.get("digest"),
                "version": r.get("version"),
                "stage": r.get("stage") or None,
                "rule": r.get("rule") or None,
                "approver": r.get("approver"),
                "signed_at": norm_ts(r.get("signed_at")),
                "expires_at": norm_ts(r.get("expires_at")),
                "log_index": r.get("log_index"),
                "revoked": None
                if not rev
                else {
                    "by": rev.get("by"),
                    "at": norm_ts(rev.get("at")),
                    "reason": rev.get("reason"),
                },
            }
        )
    out.sort(key=lambda r: (r["log_index"] if r["log_index"] is not None else -1, str(r["digest"])))
    return out


def governance_of(ws: Workspace, v: ModelVersion) -> dict[str, Any]:
    registry = ws.registry()
    evaluations = [evaluation_row(r) for r in registry.evaluations(v.model.name, v.version)]
    transitions = [
        transition_row(t) for t in registry.transitions(v.model.name) if t.version == v.version
    ]
    signed = signed_rows(ws, v.model.name, v.version)
    latest: dict[str, dict[str, Any]] = {}
    for e in evaluations:
        latest[str(e["stage"])] = e
    return {
        "stage": v.stage,
        "latest_verdicts": [latest[s] for s in sorted(latest)],
        "evaluations": evaluations,
        "approvals": [s for s in signed if s["kind"] == "approval"],
        "waivers": [s for s in signed if s["kind"] == "waiver"],
        "transitions": transitions,
    }


# --------------------------------------------------------------------------- the log


def entries_for(ws: Workspace, ref: str) -> list[LogEntry]:
    if not ws.log_key_path.is_file() and not ws.log_vkey_path.is_file():
        return []
    try:
        # only entries proven part of the verified tree (never one inserted past the head)
        entries = ws.log_reader().verified_entries_about(subject=ref)
        return [e for e in entries if e.predicate_type != uris.RENDERING]
    except VerificationError:
        raise  # a tampered log is never rendered as an empty trail
    except OrdinanceError:
        return []


def signed_time(statement: Mapping[str, Any]) -> str | None:
    """The time inside a signed statement (its signer's clock), as :func:`ts` renders it."""
    p = statement.get("predicate") or {}
    for key in _SIGNED_TIME_FIELDS:
        value = p.get(key)
        if isinstance(value, str) and value:
            return norm_ts(value)
    return None


def key_names(ws: Workspace) -> dict[str, tuple[str, Any]]:
    """Key ID → (identity, verifier key) for the log key and every roster member's keys."""
    from ordinance.signing import parse_vkey

    out: dict[str, tuple[str, Any]] = {}
    try:
        from ordinance.approvals import Roster, approvals_store

        for row in approvals_store(ws).rosters():
            for m in Roster.from_dict(row.document).members:
                for k in m.keys:
                    vk = parse_vkey(k.vkey)
                    out.setdefault(vk.key_id, (m.id, vk))
    except (ImportError, OrdinanceError):
        pass
    if ws.log_vkey_path.is_file():
        vk = parse_vkey(ws.vkey())
        out[vk.key_id] = (f"log key {vk.name}", vk)
    return out


def _signers(entry: LogEntry, keys: Mapping[str, tuple[str, Any]]) -> list[str]:
    """The identities whose signatures on the entry's envelope verify (key ID hints first)."""
    from ordinance.signing import Envelope, verify_envelope

    try:
        env = Envelope.from_bytes(entry.envelope)
    except OrdinanceError:
        return []
    names = []
    for sig in env.signatures:
        known = keys.get(sig.keyid)
        if known is None:
            continue
        try:
            verify_envelope(Envelope(env.payload, env.payload_type, (sig,)), [known[1]])
        except OrdinanceError:
            continue
        names.append(known[0])
    return sorted(set(names))


def entry_summary(e: LogEntry) -> str:
    p = e.statement.get("predicate") or {}
    kind = _PREDICATES.get(e.predicate_type, "")
    if kind == "registration":
        return f"registered (author named: {p.get('author', '?')})"
    if kind == "policy evaluation":
        result = p.get("verificationResult", "?")
        policy = (p.get("policy") or {}).get("uri", "?")
        return f"policy {policy}: {result}"
    if kind == "evidence":
        names = [f"{i.get('kind')}/{i.get('name')}" for i in p.get("evidence") or []]
        return "attached " + (", ".join(names) or "evidence")
    if kind == "approval":
        return f"approved for {p.get('stage', '?')}"
    if kind == "decline":
        return f"declined for {p.get('stage', '?')}: {p.get('reason', '')}"
    if kind == "waiver":
        return f"waiver of {p.get('rule', '?')} until {norm_ts(p.get('expiresAt')) or '?'}"
    if kind == "waiver request":
        return f"{p.get('requester', '?')} asked to waive {p.get('rule', '?')} (not a waiver)"
    if kind == "waiver request declined":
        return f"waiver request declined by {p.get('reviewer', '?')}: {p.get('reason', '')}"
    if kind == "transition":
        frm, to = p.get("fromStage") or "—", p.get("toStage") or p.get("to") or "?"
        return f"{p.get('kind', 'transition')}: {frm} → {to}"
    if kind == "revocation":
        return f"revoked {str(p.get('approval') or p.get('digest') or '')[:12]}"
    return kind or e.predicate_type


def _claimed_actor(statement: Mapping[str, Any]) -> str | None:
    p = statement.get("predicate") or {}
    for key in _CLAIMED_ACTOR_FIELDS:
        value = p.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def audit_trail(
    entries: Sequence[LogEntry], keys: Mapping[str, tuple[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        signers = _signers(e, keys)
        claimed = _claimed_actor(e.statement)
        out.append(
            {
                "index": e.index,
                "signed_at": signed_time(e.statement),
                "predicate_type": e.predicate_type,
                "kind": _PREDICATES.get(e.predicate_type, "other"),
                "subject_digest": e.subject_digest,
                "summary": entry_summary(e),
                "signed_by": signers,
                # a name the statement gives that no verified signature of its own backs
                "claimed_actor": None if claimed is None or claimed in signers else claimed,
                "leaf_hash": e.leaf_hash.hex(),
            }
        )
    return out


def _pinned_size(log: Any, size: int) -> int:
    """The log size a document is built from: the head, not counting trailing rendering
    records (rendering a report is not an input to the next rendering)."""
    n = size
    while n > 0 and log.entry(n - 1).predicate_type == uris.RENDERING:
        n -= 1
    return n


def log_state(ws: Workspace, *, verify: bool) -> dict[str, Any]:
    """The checkpoint the document is built from and the result of verifying the log."""
    import base64
    import hashlib

    out: dict[str, Any] = {
        "origin": ws.config.log_origin,
        "present": False,
        "size": 0,
        "root": None,
        "root_base64": None,
        "checkpoint": None,
        "as_of": None,
        "verification": None,
        "vkey": None,
        "vkey_fingerprint": None,
    }
    if not ws.log_vkey_path.is_file():
        return out
    try:
        vkey = ws.vkey()
        out["vkey"] = vkey
        out["vkey_fingerprint"] = "sha256:" + hashlib.sha256(vkey.encode()).hexdigest()
        from ordinance.log.store import TransparencyLog

        log = TransparencyLog.reader(ws.engine(), vkey, ws.config.log_origin)
        head = log.size()
        size = _pinned_size(log, head)
        try:
            checkpoint = log.checkpoint(size) if size else None
        except NotFoundError:  # appended in a batch: no checkpoint at that size
            size = head
            checkpoint = log.checkpoint(size) if size else None
        root = log.root_at(size) if size else log.root()
        out["present"] = True
        out["size"] = size
        out["root"] = root.hex()
        out["root_base64"] = base64.b64encode(root).decode()
        out["checkpoint"] = checkpoint
        for i in range(size - 1, -1, -1):
            when = signed_time(log.entry(i).statement)
            if when is not None:
                out["as_of"] = when
                break
        if verify:
            # whether the whole stored log verifies against its signed checkpoints (counts
            # and the head are left out: rendering records grow them, and are not inputs)
            r = log.verify(vkey)
            out["verification"] = {"ok": bool(r.ok), "reason": r.reason}
    except OrdinanceError as exc:
        out["verification"] = {"ok": False, "reason": exc.message}
    return out


def ordinance_version() -> str:
    from ordinance import __version__

    return __version__

"""Waiver requests: someone asks for a waiver; a waiver-role holder grants or declines it.

A request is **not** a waiver. It is the server's record, signed by the log key, of what an
authenticated user asked for (``https://ordinance.dev/waiver-request/v1``: rule, version,
stages, justification, the expiry asked for). Nothing counts it. A reviewer holding a waiver
role either

* **grants** it by signing a waiver with their own key, exactly as any waiver is signed and
  checked (:func:`~ordinance.approvals.record_waiver`); the waiver names the request by its
  envelope digest (``predicate.request.sha256``), and :func:`check_grant` makes sure the waiver
  says what was asked (same version, rule and stages, no later expiry); or
* **declines** it, with a reason (``https://ordinance.dev/waiver-request-declined/v1``, again
  the server's record of who declined and why).

Everything is read back from the verified log (:func:`waiver_requests`): a request is pending
until a waiver naming it or a decline of it is logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance._canonical import sha256_hex
from ordinance.approvals._base import WAIVER_ROLES, ApprovalRefused
from ordinance.approvals.roster import roster_at
from ordinance.errors import ConflictError, InputError, NotFoundError
from ordinance.records import (
    Subject,
    WaiverRequest,
    WaiverRequestDeclined,
    WaiverStatement,
    stamp,
)

if TYPE_CHECKING:
    from ordinance.signing import Envelope
    from ordinance.workspace import Workspace

__all__ = [
    "RequestState",
    "check_grant",
    "decline_waiver_request",
    "request_waiver",
    "waiver_requests",
]

#: The shortest justification or reason (as a waiver's justification).
MIN_TEXT = 10
#: The longest expiry a request may ask for.
MAX_DAYS = 365


@dataclass(frozen=True)
class RequestState:
    """A waiver request as the log tells it, with what became of it."""

    digest: str
    log_index: int
    request: WaiverRequest
    status: str  # pending | granted | declined
    granted_by: str | None = None
    waiver_log_index: int | None = None
    declined_by: str | None = None
    decline_reason: str | None = None
    decline_log_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "digest": self.digest,
            "log_index": self.log_index,
            "requester": r.requester,
            "model": r.model,
            "version": r.version,
            "rule": r.rule,
            "stages": None if r.stages is None else list(r.stages),
            "justification": r.justification,
            "expires_at": stamp(r.expires_at),
            "requested_at": stamp(r.requested_at),
            "status": self.status,
            "granted_by": self.granted_by,
            "waiver_log_index": self.waiver_log_index,
            "declined_by": self.declined_by,
            "decline_reason": self.decline_reason,
            "decline_log_index": self.decline_log_index,
        }


def request_waiver(
    ws: Workspace,
    model: str,
    version: str,
    rule: str,
    *,
    requester: str,
    justification: str,
    expires_at: datetime,
    stages: Sequence[str] | None,
    now: datetime,
) -> RequestState:
    """Log a request by ``requester`` (an identity the caller authenticated) for a waiver of
    ``rule`` on ``model@version``. Input errors (exit 2) for a bad rule, stage, expiry or a
    justification shorter than 10 characters."""
    v = ws.registry().get_version(model, version)
    rule = rule.strip()
    if not rule or len(rule) > 256:
        raise InputError("name the rule to waive (at most 256 characters)")
    for s in stages or ():
        if s not in ws.config.stages:
            raise InputError(f"unknown stage {s!r}")
    if len(justification.strip()) < MIN_TEXT:
        raise InputError(
            f"a waiver request needs a justification of at least {MIN_TEXT} characters"
        )
    if expires_at <= now or expires_at > now + timedelta(days=MAX_DAYS):
        raise InputError(f"a waiver request must expire within {MAX_DAYS} days from now")
    rec = WaiverRequest(
        subject=Subject.of(v),
        requester=requester,
        model=model,
        version=version,
        rule=rule,
        stages=None if not stages else tuple(sorted(stages)),
        justification=justification,
        expires_at=expires_at,
        requested_at=now,
    )
    with ws.write_transaction("logging the waiver request") as conn:
        index = ws.append_to_log(rec.to_statement(), conn=conn)
    state = next((r for r in waiver_requests(ws, model, version) if r.log_index == index), None)
    assert state is not None
    return state


def decline_waiver_request(
    ws: Workspace, digest: str, *, reviewer: str, reason: str, now: datetime
) -> int:
    """Log that ``reviewer`` (who must hold a waiver role now) declined the pending request
    ``digest`` with ``reason``; returns the log index."""
    state = _pending(ws, digest)
    member = roster_at(ws, now).member(reviewer)
    if member is None or not member.roles & WAIVER_ROLES:
        raise ApprovalRefused(
            f"{reviewer} holds none of {', '.join(sorted(WAIVER_ROLES))}: only a waiver-role "
            "holder reviews waiver requests"
        )
    if len(reason.strip()) < MIN_TEXT:
        raise InputError(f"a decline needs a reason of at least {MIN_TEXT} characters")
    v = ws.registry().get_version(state.request.model, state.request.version)
    rec = WaiverRequestDeclined(
        subject=Subject.of(v),
        request_sha256=state.digest,
        reviewer=reviewer,
        reason=reason,
        declined_at=now,
    )
    with ws.write_transaction("logging the declined waiver request") as conn:
        return ws.append_to_log(rec.to_statement(), conn=conn)


def check_grant(ws: Workspace, envelope: Envelope) -> RequestState | None:
    """For a signed waiver naming a request (``predicate.request.sha256``): the request must be
    pending and the waiver must grant what it asked (version, rule, stages; an expiry no later
    than asked). ``None`` when the waiver names no request."""
    import json

    try:
        stmt = json.loads(envelope.payload)
        pred = stmt["predicate"]
    except (ValueError, KeyError, TypeError):
        return None  # record_waiver refuses it with the reason
    ref = pred.get("request") if isinstance(pred, dict) else None
    if ref is None:
        return None
    if not isinstance(ref, dict) or not isinstance(ref.get("sha256"), str):
        raise InputError("the waiver's 'request' must be {'sha256': <request digest>}")
    state = _pending(ws, ref["sha256"])
    r = state.request
    try:
        w = WaiverStatement.from_statement(stmt)
    except InputError as exc:
        raise ApprovalRefused(f"the waiver does not parse: {exc.message}") from None
    if (w.model, w.version, w.rule) != (r.model, r.version, r.rule):
        raise ApprovalRefused(
            f"the waiver covers {w.rule} of {w.model}@{w.version}, but the request asked for "
            f"{r.rule} of {r.model}@{r.version}"
        )
    if (w.stages or None) != (r.stages or None):
        raise ApprovalRefused("the waiver's stages are not the ones the request asked for")
    if w.expires_at > r.expires_at:
        raise ApprovalRefused(
            f"the waiver expires {stamp(w.expires_at)}, later than requested "
            f"({stamp(r.expires_at)})"
        )
    return state


def _pending(ws: Workspace, digest: str) -> RequestState:
    state = next((r for r in waiver_requests(ws) if r.digest == digest), None)
    if state is None:
        raise NotFoundError(f"no waiver request {digest[:12]}… in the log")
    if state.status != "pending":
        raise ConflictError(f"the waiver request {digest[:12]}… was already {state.status}")
    return state


def waiver_requests(
    ws: Workspace, model: str | None = None, version: str | None = None
) -> list[RequestState]:
    """Waiver requests (of a model, or one version) and their outcome, from the verified log:
    each entry proven included in the signed tree. Log order."""
    if not ws.log_vkey_path.is_file():
        return []
    log = ws.log_reader()  # continues from the persisted trusted head, not from entry 0
    about: dict[str, Any] = {}
    if model is not None:
        about = (
            {"subject": f"{model}@{version}"}
            if version is not None
            else {"subject_prefix": f"{model}@"}
        )
    entries = log.verified_entries_about(
        predicate_types=(uris.WAIVER_REQUEST, uris.WAIVER_REQUEST_DECLINED, uris.WAIVER), **about
    )
    requests: dict[str, tuple[int, WaiverRequest]] = {}
    granted: dict[str, tuple[str, int]] = {}
    declined: dict[str, tuple[str, str, int]] = {}
    for e in entries:
        if e.predicate_type == uris.WAIVER_REQUEST:
            requests[sha256_hex(e.envelope)] = (e.index, WaiverRequest.from_statement(e.statement))
        elif e.predicate_type == uris.WAIVER_REQUEST_DECLINED:
            d = WaiverRequestDeclined.from_statement(e.statement)
            declined.setdefault(d.request_sha256, (d.reviewer, d.reason, e.index))
        else:
            ref = (e.statement.get("predicate") or {}).get("request")
            if isinstance(ref, dict) and isinstance(ref.get("sha256"), str):
                w = WaiverStatement.from_statement(e.statement)
                granted.setdefault(ref["sha256"], (w.approver, e.index))
    out = []
    for digest, (index, req) in requests.items():
        if digest in granted:
            by, at = granted[digest]
            out.append(RequestState(digest, index, req, "granted", by, at))
        elif digest in declined:
            by, why, at = declined[digest]
            out.append(
                RequestState(
                    digest,
                    index,
                    req,
                    "declined",
                    declined_by=by,
                    decline_reason=why,
                    decline_log_index=at,
                )
            )
        else:
            out.append(RequestState(digest, index, req, "pending"))
    return out

"""Signed declines: an approver's "no" to a version entering a stage, with a reason.

A decline (predicate ``https://ordinance.dev/decline/v1``, :class:`~ordinance.records.
DeclineStatement`) is signed on the approver's device like an approval, over the same facts
(identity digest, version, stage, policy digests) plus a free-text reason. The checks when it
is submitted are an approval's: a key the roster gives to the approver it names, one of the
roles the stage's approval rules ask for, not the version's author, the subject and stage it
claims. It is appended to the log verbatim and nowhere else: the log is its only record, read
back (each entry proven included) by :func:`declines_of`.

A decline never counts as an approval, does not withdraw one (a revocation does: a decline is
refused while the decliner's own approval of that version and stage is live) and does not block
a promotion by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance._canonical import sha256_hex
from ordinance.approvals._base import (
    ApprovalRefused,
    _append_bytes,
    _check_signed,
    _log_refusal,
    _member_for,
    _sign_statement,
    approvals_store,
)
from ordinance.approvals.roster import roster_at
from ordinance.errors import InputError
from ordinance.model import ModelVersion
from ordinance.records import DeclineStatement, stamp
from ordinance.signing import Envelope, Signer

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = ["Decline", "decline", "decline_statement", "declines_of", "record_decline"]

#: The shortest reason a decline may give (as a waiver's justification).
MIN_REASON = 10


@dataclass(frozen=True)
class Decline:
    """A recorded decline, as read back from the log."""

    model: str
    version: str
    stage: str
    approver: str
    reason: str
    signed_at: datetime
    digest: str
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "decline",
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "approver": self.approver,
            "reason": self.reason,
            "signed_at": stamp(self.signed_at),
            "digest": self.digest,
            "log_index": self.log_index,
        }


def decline_statement(
    version: ModelVersion,
    stage: str,
    approver: str,
    *,
    signed_at: datetime,
    policies: Mapping[str, str],
    reason: str,
) -> dict[str, Any]:
    """The in-toto statement an approver signs to decline ``version`` for ``stage``."""
    return DeclineStatement.of(
        version, stage, approver, signed_at=signed_at, policies=policies, reason=reason
    ).to_statement()


def record_decline(
    ws: Workspace,
    envelope: Envelope,
    *,
    model: str,
    version: str,
    stage: str,
    now: datetime,
) -> Decline:
    """Verify a signed decline of ``model@version`` for ``stage`` and append it to the log.

    Refused (and the refusal logged) like an approval: unknown key, replay for another
    version or stage, a signer naming someone else, none of the roles the stage asks for;
    and also when the signer is the version's author, the reason is shorter than 10
    characters, or the signer's own approval of this version and stage is still live.
    """
    from ordinance.gate import required_roles

    v = ws.registry().get_version(model, version)
    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}; stages are {', '.join(ws.config.stages)}")
    raw = envelope.to_bytes()
    claim = {"model": model, "version": version, "stage": stage}
    try:
        checked = _check_signed(
            envelope,
            record_type=DeclineStatement,
            version=v,
            stage=stage,
            roster=roster_at(ws, now),
            recorded_at=now,
        )
        who = checked.member
        needed = required_roles(ws, stage, v)
        if needed and not who.roles & needed:
            held = ", ".join(sorted(who.roles)) or "no roles"
            raise ApprovalRefused(
                f"{who.id} holds {held}; approvals for {stage} need one of "
                f"{', '.join(sorted(needed))}"
            )
        if who.id == v.author:
            raise ApprovalRefused(f"{who.id} is the version's author and cannot decline it")
        reason = checked.record.reason
        if len(reason.strip()) < MIN_REASON:
            raise ApprovalRefused(f"a decline needs a reason of at least {MIN_REASON} characters")
        live = _live_approval(ws, model, version, stage, who.id)
        if live is not None:
            raise ApprovalRefused(
                f"{who.id} approved {model}@{version} for {stage} (log entry {live}); revoke "
                "that approval first (`ordinance approve --revoke`)"
            )
    except ApprovalRefused as exc:
        index = _log_refusal(ws, v, "decline", raw, exc.message, claim, now)
        where = f" (refusal logged at entry {index})" if index is not None else ""
        raise ApprovalRefused(f"decline refused: {exc.message}{where}") from None
    with ws.write_transaction("recording the decline") as conn:
        index = _append_bytes(ws, raw, conn)
    return Decline(
        model=model,
        version=version,
        stage=stage,
        approver=who.id,
        reason=reason,
        signed_at=checked.signed_at,
        digest=sha256_hex(raw),
        log_index=index,
    )


def _live_approval(ws: Workspace, model: str, version: str, stage: str, who: str) -> int | None:
    """The log index of ``who``'s unrevoked approval of ``model@version`` for ``stage``."""
    store = approvals_store(ws)
    rows = [
        r
        for r in store.signed(model, version, "approval")
        if r.approver == who and r.stage == stage
    ]
    revoked = {r.approval_digest for r in store.revocations([r.digest for r in rows])}
    for r in rows:
        if r.digest not in revoked:
            return int(r.log_index) if r.log_index is not None else -1
    return None


def declines_of(ws: Workspace, model: str, version: str | None = None) -> list[Decline]:
    """Declines of a model's versions (or one version), read from the verified log: each
    entry proven included in the signed tree, in log order."""
    if not ws.log_vkey_path.is_file():
        return []
    log = ws.log_reader()  # continues from the persisted trusted head, not from entry 0
    about: dict[str, Any] = (
        {"subject": f"{model}@{version}"}
        if version is not None
        else {"subject_prefix": f"{model}@"}
    )
    out = []
    for e in log.verified_entries_about(predicate_types=(uris.DECLINE,), **about):
        rec = DeclineStatement.from_statement(e.statement)
        if rec.model != model or (version is not None and rec.version != version):
            continue
        out.append(
            Decline(
                model=rec.model,
                version=rec.version,
                stage=rec.stage,
                approver=rec.approver,
                reason=rec.reason,
                signed_at=rec.signed_at,
                digest=sha256_hex(e.envelope),
                log_index=e.index,
            )
        )
    return out


def decline(
    ws: Workspace,
    model: str,
    version: str,
    stage: str,
    signer: Signer,
    reason: str,
    *,
    now: datetime | None = None,
) -> Decline:
    """Sign a decline of ``model@version`` for ``stage`` with ``signer`` and record it."""
    from ordinance.gate import policy_digests

    now = now or datetime.now(UTC)
    v = ws.registry().get_version(model, version)
    member = _member_for(roster_at(ws, now), signer)
    stmt = decline_statement(
        v,
        stage,
        member.id if member is not None else signer.name,
        signed_at=now,
        policies=policy_digests(ws, stage, v),
        reason=reason,
    )
    env = _sign_statement(stmt, signer)
    return record_decline(ws, env, model=model, version=version, stage=stage, now=now)

"""Collection: every recorded approval and waiver of a version, re-verified from its envelope.

Each use re-verifies from the stored envelope bytes: the signature against the keys the roster
held *when the item was recorded*, the subject digest, model, version and stage against the
indexed claim, and the approver's roles at that time. What fails is returned as a
:class:`Rejected` with a reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ordinance._canonical import sha256_hex
from ordinance.approvals._base import (
    REVOKER_ROLES,
    WAIVER_ROLES,
    ApprovalRefused,
    R,
    Rejected,
    _check_signed,
    _Checked,
    _ts_or_none,
    approvals_store,
)
from ordinance.approvals.roster import roster_in_force
from ordinance.approvals.waiver import _check_waiver_fields
from ordinance.errors import InputError
from ordinance.model import ModelVersion
from ordinance.policy.context import Approval
from ordinance.policy.waivers import Waiver
from ordinance.records import ApprovalStatement, WaiverStatement
from ordinance.signing import Envelope
from ordinance.store._approval_tables import ApprovalStore, SignedRow, ts

if TYPE_CHECKING:
    from ordinance.workspace import Workspace


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


def _revoked(store: ApprovalStore, rows: Sequence[SignedRow], now: datetime) -> dict[str, str]:
    """digest → who revoked it, for revocations in force at ``now`` that verify."""
    out: dict[str, str] = {}
    by_digest = {r.digest: r for r in rows}
    for rev in store.revocations(list(by_digest)):
        if rev.revoked_at > now:
            continue
        env = Envelope.from_bytes(rev.envelope)
        found = roster_in_force(store, rev.revoked_at).signer_of(env)
        row = by_digest[rev.approval_digest]
        if found is None:
            continue
        member = found[0]
        if member.id == row.approver or member.roles & REVOKER_ROLES:
            out[rev.approval_digest] = member.id
    return out


def _store(source: Workspace | ApprovalStore) -> ApprovalStore:
    return source if isinstance(source, ApprovalStore) else approvals_store(source)


def _verify_row(
    store: ApprovalStore,
    row: SignedRow,
    record_type: type[R],
    version: ModelVersion,
    stage: str | None,
) -> _Checked[R] | Rejected:
    """Re-verify one recorded envelope against the roster in force when it was recorded;
    what does not count comes back as a :class:`Rejected` with the reason."""
    try:
        env = Envelope.from_bytes(row.envelope)
        if sha256_hex(row.envelope) != row.digest:
            raise ApprovalRefused("stored envelope does not match its digest")
        c = _check_signed(
            env,
            record_type=record_type,
            version=version,
            stage=stage,
            roster=roster_in_force(store, row.recorded_at),
            recorded_at=row.recorded_at,
        )
        if isinstance(c.record, WaiverStatement):
            _check_waiver_fields(c, version, WAIVER_ROLES)
    except (ApprovalRefused, InputError) as exc:
        return Rejected(row.kind, row.digest, row.approver, exc.message, row.log_index)
    return c


def _recorded(
    source: Workspace | ApprovalStore,
    version: ModelVersion,
    kind: str,
    now: datetime,
    stage: str | None,
) -> tuple[ApprovalStore, list[SignedRow], dict[str, str]]:
    """The store, the recorded ``kind`` rows of ``version`` (for ``stage``, when given) as
    of ``now``, and which of them are revoked (digest → revoker)."""
    store = _store(source)
    rows = [
        r
        for r in store.signed(version.model.name, version.version, kind)
        if (stage is None or r.stage == stage) and r.recorded_at <= now
    ]
    return store, rows, _revoked(store, rows, now)


def collect_approvals(
    source: Workspace | ApprovalStore, version: ModelVersion, stage: str, now: datetime
) -> tuple[list[Approval], list[Rejected]]:
    """Every recorded approval of ``version`` for ``stage``, re-verified from its envelope.

    Roles are those the roster gave the signer when the approval was recorded. Revoked and
    expired approvals are returned (flagged) so the policy rule reports them by name.
    """
    store, rows, revoked = _recorded(source, version, "approval", now, stage)
    good: list[Approval] = []
    bad: list[Rejected] = []
    for r in rows:
        c = _verify_row(store, r, ApprovalStatement, version, stage)
        if isinstance(c, Rejected):
            bad.append(c)
            continue
        good.append(
            Approval(
                approver=c.member.id,
                roles=c.member.roles,
                model=version.model.name,
                version=version.version,
                identity_sha256=version.identity.sha256,
                stage=c.record.stage,
                signed_at=c.signed_at,
                expires_at=c.expires_at,
                revoked=r.digest in revoked,
                digest=r.digest,
                comment=c.record.comment,
            )
        )
    return good, bad


def verified_approvals(
    ws: Workspace, version: ModelVersion, stage: str, now: datetime | None = None
) -> list[Approval]:
    """The approvals that verify (for ``ordinance check``); rejections are dropped here."""
    return collect_approvals(ws, version, stage, now or datetime.now(UTC))[0]


def _policy_waiver(
    c: _Checked[WaiverStatement], version: ModelVersion, origin: str, digest: str
) -> Waiver:
    """The policy engine's ``Waiver`` for a verified signed waiver."""
    w = c.record
    return Waiver(
        id=w.id,
        rule=w.rule,
        model=version.model.name,
        versions=version.version,
        justification=w.justification.strip(),
        approved_by=c.member.id,
        expires_at=w.expires_at,
        stages=w.stages,
        approved_at=w.signed_at,
        origin=origin,
        digest=digest,
    )


def collect_waivers(
    source: Workspace | ApprovalStore, version: ModelVersion, now: datetime
) -> tuple[list[Waiver], list[Rejected]]:
    """Recorded, verified, unrevoked waivers of ``version`` as policy ``Waiver`` objects."""
    store, rows, revoked = _recorded(source, version, "waiver", now, None)
    good: list[Waiver] = []
    bad: list[Rejected] = []
    for r in rows:
        if r.digest in revoked:
            bad.append(Rejected("waiver", r.digest, r.approver, f"revoked by {revoked[r.digest]}"))
            continue
        c = _verify_row(store, r, WaiverStatement, version, None)
        if isinstance(c, Rejected):
            bad.append(c)
            continue
        origin = f"log/{r.log_index}" if r.log_index is not None else "signed"
        good.append(_policy_waiver(c, version, origin, r.digest))
    return good, bad


def list_signed(
    ws: Workspace, model: str, version: str | None = None, *, declines: bool = False
) -> list[dict[str, Any]]:
    """A model's approvals and waivers (index rows, with revocation status) and, with
    ``declines``, its declines (from the verified log; ``reason`` set), in log order."""
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
                "reason": None,
            }
        )
    if not declines:
        return out
    from ordinance.approvals.decline import declines_of

    for d in declines_of(ws, model, version):
        out.append(
            {
                "kind": "decline",
                "digest": d.digest,
                "model": d.model,
                "version": d.version,
                "stage": d.stage,
                "rule": "",
                "approver": d.approver,
                "signed_at": ts(d.signed_at),
                "expires_at": None,
                "log_index": d.log_index,
                "revoked": None,
                "reason": d.reason,
            }
        )
    out.sort(key=lambda row: (row["log_index"] is None, row["log_index"] or 0))
    return out


def verify_waiver_envelope(
    source: Workspace | ApprovalStore, envelope: Envelope, version: ModelVersion, now: datetime
) -> Waiver:
    """A signed waiver that is not (yet) recorded, verified with the same roster and role
    rules as a recorded one (for ``ordinance check --waivers``); ``ApprovalRefused`` if it
    does not count."""
    c = _check_signed(
        envelope,
        record_type=WaiverStatement,
        version=version,
        stage=None,
        roster=roster_in_force(_store(source), now),
        recorded_at=now,
    )
    _check_waiver_fields(c, version, WAIVER_ROLES)
    return _policy_waiver(c, version, "signed-file", sha256_hex(envelope.to_bytes()))


@dataclass(frozen=True)
class ApprovalCollector:
    """The gate's view of the approval store: verified approvals and waivers of a version."""

    store: ApprovalStore

    def collect(self, version: ModelVersion, stage: str, now: datetime) -> Collected:
        approvals, bad_a = collect_approvals(self.store, version, stage, now)
        waivers, bad_w = collect_waivers(self.store, version, now)
        return Collected(tuple(approvals), tuple(waivers), tuple(bad_a + bad_w))

    def verify_waiver(self, envelope: Envelope, version: ModelVersion, now: datetime) -> Waiver:
        return verify_waiver_envelope(self.store, envelope, version, now)

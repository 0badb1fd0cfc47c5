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

from ordinance import uris
from ordinance._canonical import sha256_hex
from ordinance.approvals._base import (
    REVOKER_ROLES,
    WAIVER_ROLES,
    ApprovalRefused,
    Rejected,
    _check_signed,
    _ts_or_none,
    approvals_store,
)
from ordinance.approvals.roster import roster_in_force
from ordinance.approvals.waiver import _check_waiver_fields
from ordinance.errors import InputError
from ordinance.model import ModelVersion
from ordinance.policy.context import Approval
from ordinance.policy.waivers import Waiver
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


def collect_approvals(
    source: Workspace | ApprovalStore, version: ModelVersion, stage: str, now: datetime
) -> tuple[list[Approval], list[Rejected]]:
    """Every recorded approval of ``version`` for ``stage``, re-verified from its envelope.

    Roles are those the roster gave the signer when the approval was recorded. Revoked and
    expired approvals are returned (flagged) so the policy rule reports them by name.
    """
    store = _store(source)
    rows = [
        r
        for r in store.signed(version.model.name, version.version, "approval")
        if r.stage == stage and r.recorded_at <= now
    ]
    revoked = _revoked(store, rows, now)
    good: list[Approval] = []
    bad: list[Rejected] = []
    for r in rows:
        try:
            env = Envelope.from_bytes(r.envelope)
            if sha256_hex(r.envelope) != r.digest:
                raise ApprovalRefused("stored envelope does not match its digest")
            c = _check_signed(
                env,
                predicate_type=uris.APPROVAL,
                version=version,
                stage=stage,
                roster=roster_in_force(store, r.recorded_at),
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
    source: Workspace | ApprovalStore, version: ModelVersion, now: datetime
) -> tuple[list[Waiver], list[Rejected]]:
    """Recorded, verified, unrevoked waivers of ``version`` as policy ``Waiver`` objects."""
    store = _store(source)
    rows = [
        r
        for r in store.signed(version.model.name, version.version, "waiver")
        if r.recorded_at <= now
    ]
    revoked = _revoked(store, rows, now)
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
                predicate_type=uris.WAIVER,
                version=version,
                stage=None,
                roster=roster_in_force(store, r.recorded_at),
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


def verify_waiver_envelope(
    source: Workspace | ApprovalStore, envelope: Envelope, version: ModelVersion, now: datetime
) -> Waiver:
    """A signed waiver that is not (yet) recorded, verified with the same roster and role
    rules as a recorded one (for ``ordinance check --waivers``); ``ApprovalRefused`` if it
    does not count."""
    c = _check_signed(
        envelope,
        predicate_type=uris.WAIVER,
        version=version,
        stage=None,
        roster=roster_in_force(_store(source), now),
        recorded_at=now,
    )
    _check_waiver_fields(c, version, WAIVER_ROLES)
    p = c.predicate
    assert c.expires_at is not None
    stages = p.get("stages")
    return Waiver(
        id=str(p["id"]),
        rule=str(p["rule"]),
        model=version.model.name,
        versions=version.version,
        justification=str(p["justification"]).strip(),
        approved_by=c.member.id,
        expires_at=c.expires_at,
        stages=None if not stages else tuple(str(s) for s in stages),
        approved_at=c.signed_at,
        origin="signed-file",
        digest=sha256_hex(envelope.to_bytes()),
    )


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

"""Hostile scenarios: every forged, misused or stale approval is refused with a reason and
(where something was attempted against a version) logged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from approvals_support import DAY, HOUR, T0, People

from ordinance import promote, uris
from ordinance.approvals import (
    APPROVAL_REFUSED,
    ApprovalRefused,
    apply_roster,
    approvals_store,
    approve,
    collect_approvals,
    record_approval,
    revoke,
    sign_approval,
)
from ordinance.ledger import IndexMismatch
from ordinance.signing import Envelope, Signer
from ordinance.workspace import Workspace


def _refusals(ws: Workspace) -> list[dict[str, object]]:
    return [
        e.statement["predicate"] for e in ws.audit_log().entries(predicate_type=APPROVAL_REFUSED)
    ]


def _denials(ws: Workspace, version: str) -> list[str]:
    return [
        t.reason
        for t in ws.registry().transitions("toy")
        if t.kind == "denied" and t.version == version and t.log_index is not None
    ]


def _inject(ws: Workspace, env: bytes, *, version: str, approver: str, at: object) -> None:
    """Write an approval row straight into the index (an attacker with database access)."""
    from ordinance._canonical import sha256_hex

    approvals_store(ws).add_signed(
        kind="approval",
        digest=sha256_hex(env),
        model="toy",
        version=version,
        stage="production",
        rule="",
        approver=approver,
        key_id="00000000",
        signed_at=at,
        recorded_at=at,
        expires_at=None,
        envelope=env,
        log_index=None,
    )


def test_unknown_key_is_refused_and_logged(ws: Workspace, people: People) -> None:
    with pytest.raises(ApprovalRefused, match="unknown key") as exc:
        approve(ws, "toy", "1.0.0", "production", people.mallory, now=T0 + HOUR)
    assert "refusal logged" in exc.value.message
    (refusal,) = _refusals(ws)
    assert "unknown key" in str(refusal["reason"])
    assert refusal["claimed"] == {"model": "toy", "version": "1.0.0", "stage": "production"}
    assert approvals_store(ws).signed("toy") == []


def test_unknown_key_injected_into_the_index_does_not_count(ws: Workspace, people: People) -> None:
    v = ws.registry().get_version("toy", "1.0.0")
    forged = sign_approval(v, "production", people.mallory, "vera@example.com", now=T0 + HOUR)
    _inject(ws, forged.to_bytes(), version="1.0.0", approver="vera@example.com", at=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    # the unlogged row blocks the decision (exit 1), naming the row
    with pytest.raises(IndexMismatch, match=r"ordinance_approval#\d+ .* bound to no log entry"):
        promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    assert ws.registry().get_version("toy", "1.0.0").stage == "development"
    with pytest.raises(IndexMismatch) as exc:
        collect_approvals(ws, v, "production", T0 + 2 * HOUR)
    assert exc.value.exit_code == 1


def test_key_without_the_role_is_refused(ws: Workspace, people: People) -> None:
    with pytest.raises(ApprovalRefused, match="holds ml-engineer; approvals for production"):
        approve(ws, "toy", "1.0.0", "production", people.eddie, now=T0 + HOUR)
    assert "ml-engineer" in str(_refusals(ws)[0]["reason"])


def test_author_cannot_approve_under_separation_of_duties(ws: Workspace, people: People) -> None:
    # alice wrote the version and holds model-validator: the approval is recorded but the
    # production rule does not count it
    approve(ws, "toy", "1.0.0", "production", people.alice, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    assert not d.allowed
    assert any("separation of duties" in r for r in d.reasons), d.reasons
    assert any("separation of duties" in r for r in _denials(ws, "1.0.0"))


def test_replay_for_another_version_or_stage_is_refused(ws: Workspace, people: People) -> None:
    v1 = ws.registry().get_version("toy", "1.0.0")
    env = sign_approval(v1, "production", people.vera, "vera@example.com", now=T0 + HOUR)
    with pytest.raises(ApprovalRefused, match="replayed for another version"):
        record_approval(ws, env, model="toy", version="2.0.0", stage="production", now=T0 + HOUR)
    with pytest.raises(ApprovalRefused, match="signed for stage 'production', not 'staging'"):
        record_approval(ws, env, model="toy", version="1.0.0", stage="staging", now=T0 + HOUR)
    assert len(_refusals(ws)) == 2
    # the genuine use still works, once
    record_approval(ws, env, model="toy", version="1.0.0", stage="production", now=T0 + HOUR)


def test_replay_injected_into_the_index_is_rejected_at_promotion(
    ws: Workspace, people: People
) -> None:
    v1 = ws.registry().get_version("toy", "1.0.0")
    env = sign_approval(v1, "production", people.vera, "vera@example.com", now=T0 + HOUR)
    _inject(ws, env.to_bytes(), version="2.0.0", approver="vera@example.com", at=T0 + HOUR)
    approve(ws, "toy", "2.0.0", "production", people.rita, now=T0 + HOUR)
    # the replayed approval never reached the log: the row is refused, naming it
    with pytest.raises(IndexMismatch, match=r"ordinance_approval#\d+ .* bound to no log entry"):
        promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 2 * HOUR)
    assert ws.registry().get_version("toy", "2.0.0").stage == "development"


def test_approval_after_the_role_was_removed_is_refused(ws: Workspace, people: People) -> None:
    apply_roster(ws, people.roster(vera=frozenset()), actor="admin", now=T0 + HOUR)
    with pytest.raises(ApprovalRefused, match=re.escape("vera@example.com holds no roles")):
        approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + 2 * HOUR)


def test_roles_are_judged_at_signing_time(ws: Workspace, people: People) -> None:
    # vera approves while she is a validator; her role is removed afterwards: it still counts
    approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    apply_roster(ws, people.roster(vera=frozenset()), actor="admin", now=T0 + 2 * HOUR)
    approvals, rejected = collect_approvals(
        ws, ws.registry().get_version("toy", "1.0.0"), "production", T0 + 3 * HOUR
    )
    assert {a.approver: a.roles for a in approvals}["vera@example.com"] == {"model-validator"}
    assert rejected == []
    assert promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * HOUR).allowed


def test_a_key_removed_from_the_roster_cannot_sign_later(ws: Workspace, people: People) -> None:
    roster = people.roster()
    without_vera = type(roster)(tuple(m for m in roster.members if m.id != "vera@example.com"))
    apply_roster(ws, without_vera, actor="admin", now=T0 + HOUR)
    with pytest.raises(ApprovalRefused, match="unknown key"):
        approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + 2 * HOUR)


def test_expired_approval_does_not_count(ws: Workspace, people: People) -> None:
    approve(ws, "toy", "1.0.0", "production", people.vera, expires_in=DAY, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    assert promote(ws, "toy", "1.0.0", "staging", "ci", now=T0 + 2 * HOUR).allowed
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * DAY)
    assert not d.allowed
    assert any("vera@example.com does not count: expired" in r for r in d.reasons), d.reasons


def test_revoked_approval_does_not_count(ws: Workspace, people: People) -> None:
    rec = approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    with pytest.raises(ApprovalRefused, match="neither the approver"):
        revoke(ws, rec.digest, people.eddie, reason="not mine", now=T0 + 2 * HOUR)
    revoke(ws, rec.digest, people.vera, reason="found a leak", now=T0 + 2 * HOUR)
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * HOUR)
    assert not d.allowed
    assert any("vera@example.com does not count: revoked" in r for r in d.reasons), d.reasons
    # before the revocation it would have counted
    approvals, _ = collect_approvals(
        ws, ws.registry().get_version("toy", "1.0.0"), "production", T0 + HOUR + timedelta(1)
    )
    assert any(a.revoked for a in approvals)


def test_claiming_someone_elses_identity_is_refused(ws: Workspace, people: People) -> None:
    v = ws.registry().get_version("toy", "1.0.0")
    env = sign_approval(v, "production", people.vera, "rita@example.com", now=T0 + HOUR)
    with pytest.raises(
        ApprovalRefused, match=re.escape("signed with vera@example.com's key but names")
    ):
        record_approval(ws, env, model="toy", version="1.0.0", stage="production", now=T0 + HOUR)


def test_backdated_or_future_signature_is_refused(ws: Workspace, people: People) -> None:
    v = ws.registry().get_version("toy", "1.0.0")
    env = sign_approval(v, "production", people.vera, "vera@example.com", now=T0 + DAY)
    with pytest.raises(ApprovalRefused, match="after it was recorded"):
        record_approval(ws, env, model="toy", version="1.0.0", stage="production", now=T0 + HOUR)


def test_transition_and_approval_entries_are_in_the_log(ws: Workspace, people: People) -> None:
    approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    assert d.allowed
    log = ws.audit_log()
    kinds = [e.predicate_type for e in log.entries(model="toy@1.0.0")]
    assert kinds.count(uris.APPROVAL) == 2
    assert uris.VSA in kinds and uris.TRANSITION in kinds
    report = log.verify(ws.vkey(), deep=True, entry_vkeys=[people.vera.vkey, people.rita.vkey])
    assert report.ok, report.reason


def _signed(signer: Signer, stmt: Mapping[str, Any]) -> Envelope:
    from ordinance.approvals._base import _sign_statement

    return _sign_statement(stmt, signer)


def test_malformed_signed_approval_does_not_count_and_says_why(
    ws: Workspace, people: People
) -> None:
    """A signed approval whose predicate does not read as an ``ApprovalStatement`` (a time
    that is not a time, a stage that is not a string) is refused with the reason."""
    from ordinance.records import ApprovalStatement

    v = ws.registry().get_version("toy", "1.0.0")
    good = ApprovalStatement.of(
        v, "production", "vera@example.com", signed_at=T0 + HOUR, policies={}
    ).to_statement()
    for field, value, why in (
        ("signedAt", "yesterday", "signedAt is not an ISO 8601 time"),
        ("stage", 7, "predicate field 'stage' is missing or not a string"),
    ):
        stmt = {**good, "predicate": {**good["predicate"], field: value}}
        env = _signed(people.vera, stmt)
        with pytest.raises(ApprovalRefused, match="does not read") as exc:
            record_approval(
                ws, env, model="toy", version="1.0.0", stage="production", now=T0 + HOUR
            )
        assert why in exc.value.message
    assert approvals_store(ws).signed("toy") == []
    assert all("does not read" in str(r["reason"]) for r in _refusals(ws))


def test_malformed_signed_waiver_is_refused_with_the_reason(ws: Workspace, people: People) -> None:
    """``check --waivers`` reads a signed waiver as a ``WaiverStatement``: a rule that is not a
    string is refused, naming the field."""
    from ordinance.approvals.collect import verify_waiver_envelope
    from ordinance.records import WaiverStatement

    v = ws.registry().get_version("toy", "1.0.0")
    good = WaiverStatement.of(
        v,
        waiver_id="W-1",
        rule="fairness",
        justification="accepted for the incident window",
        approver="rita@example.com",
        signed_at=T0 + HOUR,
        expires_at=T0 + DAY,
    ).to_statement()
    assert verify_waiver_envelope(ws, _signed(people.rita, good), v, T0 + HOUR).rule == "fairness"
    bad = {**good, "predicate": {**good["predicate"], "rule": 5}}
    with pytest.raises(ApprovalRefused, match="predicate field 'rule' is missing or not a string"):
        verify_waiver_envelope(ws, _signed(people.rita, bad), v, T0 + HOUR)

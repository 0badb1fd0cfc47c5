"""The promotion pipeline: exclusive stages, demotion, rollback, archive, waivers, history."""

from __future__ import annotations

from pathlib import Path

import pytest
from approvals_support import DAY, HOUR, T0, People

from helpers import small_manifest
from ordinance import promote, rollback, uris
from ordinance.approvals import ApprovalRefused, approve, collect_waivers, revoke, waive
from ordinance.errors import InputError
from ordinance.promotion import archive as archive_version
from ordinance.stage_history import history, holder_at
from ordinance.workspace import Workspace


def _approve_both(ws: Workspace, people: People, version: str, at: object) -> None:
    approve(ws, "toy", version, "production", people.vera, now=at)  # type: ignore[arg-type]
    approve(ws, "toy", version, "production", people.rita, now=at)  # type: ignore[arg-type]


def _stages(ws: Workspace) -> dict[str, str]:
    return {v.version: v.stage for v in ws.registry().list_versions("toy")}


def test_promoting_a_new_version_demotes_the_old_one_atomically(
    ws: Workspace, people: People
) -> None:
    _approve_both(ws, people, "1.0.0", T0 + HOUR)
    _approve_both(ws, people, "2.0.0", T0 + HOUR)
    d1 = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    d2 = promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 3 * HOUR)
    assert d1.allowed and d2.allowed
    assert d2.demoted == "1.0.0" and d2.demote_to == "archived"
    assert _stages(ws) == {"1.0.0": "archived", "2.0.0": "production", "3.0.0": "development"}
    # the demotion and the promotion are one log batch, next to each other
    demote_idx, promote_idx = d2.log_indexes
    assert promote_idx == demote_idx + 1
    log = ws.audit_log()
    assert log.entry(demote_idx).statement["predicate"]["kind"] == "demote"
    assert log.entry(demote_idx).subject_name == "toy@1.0.0"
    assert log.entry(promote_idx).statement["predicate"]["kind"] == "promote"
    kinds = [(t.version, t.kind) for t in ws.registry().transitions("toy")]
    assert kinds == [("1.0.0", "promote"), ("1.0.0", "demote"), ("2.0.0", "promote")]


def test_demote_to_is_configurable(ws: Workspace, people: People) -> None:
    _approve_both(ws, people, "1.0.0", T0 + HOUR)
    _approve_both(ws, people, "2.0.0", T0 + HOUR)
    promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 3 * HOUR, demote_to="staging")
    assert _stages(ws)["1.0.0"] == "staging"


def test_denied_promotion_is_logged_with_reasons(ws: Workspace, people: People) -> None:
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + HOUR)
    assert not d.allowed and d.outcome == "denied"
    assert d.reasons == (
        "prod-gate/two-approvals: 0 of 2 approvals; missing: model-validator, risk-officer",
    )
    assert _stages(ws)["1.0.0"] == "development"
    log = ws.audit_log()
    vsa = log.entry(d.evaluation_log_index or 0)
    assert vsa.predicate_type == uris.VSA
    assert vsa.statement["predicate"]["verificationResult"] == "FAILED"
    (idx,) = d.log_indexes
    pred = log.entry(idx).statement["predicate"]
    assert pred["kind"] == "denied" and "missing: model-validator" in pred["reason"]
    assert pred["logHead"]["size"] == d.log_head.size


def test_rollback_returns_a_previous_production_version(ws: Workspace, people: People) -> None:
    _approve_both(ws, people, "1.0.0", T0 + HOUR)
    _approve_both(ws, people, "2.0.0", T0 + HOUR)
    promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 3 * HOUR)
    with pytest.raises(InputError, match="never in production"):
        rollback(ws, "toy", "3.0.0", "oncall", now=T0 + 4 * HOUR)
    d = rollback(ws, "toy", "1.0.0", "oncall", now=T0 + 4 * HOUR)
    assert d.allowed and d.kind == "rollback" and d.demoted == "2.0.0"
    assert _stages(ws)["1.0.0"] == "production"


def test_rollback_is_still_policy_checked(ws: Workspace, people: People) -> None:
    rec = approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    _approve_both(ws, people, "2.0.0", T0 + HOUR)
    promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 3 * HOUR)
    revoke(ws, rec.digest, people.rita, reason="risk review", now=T0 + 4 * HOUR)
    d = rollback(ws, "toy", "1.0.0", "oncall", now=T0 + 5 * HOUR)
    assert not d.allowed
    assert _stages(ws)["2.0.0"] == "production"


def test_archive_and_unknown_stage(ws: Workspace) -> None:
    d = archive_version(ws.promotion(), "toy", "3.0.0", "ops", now=T0 + HOUR)
    assert d.allowed and _stages(ws)["3.0.0"] == "archived"
    with pytest.raises(InputError, match="already in archived"):
        archive_version(ws.promotion(), "toy", "3.0.0", "ops", now=T0 + HOUR)
    with pytest.raises(InputError, match="unknown stage"):
        promote(ws, "toy", "1.0.0", "prod", "ci", now=T0)


def test_staging_needs_no_approvals(ws: Workspace) -> None:
    d = promote(ws, "toy", "1.0.0", "staging", "ci", now=T0 + HOUR)
    assert d.allowed and d.verdict == "pass"


def _low(ws: Workspace, tmp_path: Path) -> None:
    ws.register(small_manifest(tmp_path / "low", version="4.0.0", metrics={"auc": 0.6}), now=T0)


def test_signed_waiver_lets_a_failing_rule_pass(
    ws: Workspace, people: People, tmp_path: Path
) -> None:
    _low(ws, tmp_path)
    _approve_both(ws, people, "4.0.0", T0 + HOUR)
    d = promote(ws, "toy", "4.0.0", "production", "ci", now=T0 + 2 * HOUR)
    assert not d.allowed and d.reasons[0].startswith("prod-gate/auc-floor")
    with pytest.raises(ApprovalRefused, match="waivers need one of risk-officer"):
        waive(
            ws,
            "toy",
            "4.0.0",
            "auc-floor",
            "known low auc, accepted for a pilot",
            T0 + 10 * DAY,
            people.vera,
            now=T0 + 3 * HOUR,
        )
    rec = waive(
        ws,
        "toy",
        "4.0.0",
        "auc-floor",
        "known low auc, accepted for a pilot",
        T0 + 10 * DAY,
        people.rita,
        now=T0 + 3 * HOUR,
    )
    d = promote(ws, "toy", "4.0.0", "production", "ci", now=T0 + 4 * HOUR)
    assert d.allowed, d.reasons
    assert d.evaluation is not None
    (use,) = [w for w in d.evaluation.waivers if w.status == "applied"]
    assert use.waiver.digest == rec.digest and use.waiver.approved_by == "rita@example.com"
    assert d.details()["waivers"][0]["digest"] == rec.digest


def test_expired_or_revoked_waiver_does_not_apply(
    ws: Workspace, people: People, tmp_path: Path
) -> None:
    _low(ws, tmp_path)
    _approve_both(ws, people, "4.0.0", T0 + HOUR)
    rec = waive(
        ws,
        "toy",
        "4.0.0",
        "auc-floor",
        "known low auc, accepted for a pilot",
        T0 + 2 * DAY,
        people.rita,
        now=T0 + HOUR,
    )
    d = promote(ws, "toy", "4.0.0", "production", "ci", now=T0 + 3 * DAY)
    assert not d.allowed
    assert d.evaluation is not None and d.evaluation.waivers[0].status == "expired"
    v = ws.registry().get_version("toy", "4.0.0")
    revoke(ws, rec.digest, people.rita, reason="withdrawn", now=T0 + 2 * HOUR)
    waivers, rejected = collect_waivers(ws, v, T0 + 3 * HOUR)
    assert waivers == [] and "revoked by rita@example.com" in rejected[0].reason


def test_author_cannot_waive(ws: Workspace, people: People, tmp_path: Path) -> None:
    from ordinance.approvals import apply_roster

    apply_roster(ws, people.roster(alice=frozenset({"risk-officer"})), actor="a", now=T0 + HOUR)
    with pytest.raises(ApprovalRefused, match="author and cannot waive"):
        waive(
            ws,
            "toy",
            "1.0.0",
            "auc-floor",
            "I promise it is fine really",
            T0 + 2 * DAY,
            people.alice,
            now=T0 + 2 * HOUR,
        )


def test_history_answers_which_version_was_in_production(ws: Workspace, people: People) -> None:
    _approve_both(ws, people, "1.0.0", T0 + HOUR)
    _approve_both(ws, people, "2.0.0", T0 + HOUR)
    promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + DAY)  # Mar 3
    promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 3 * DAY)  # Mar 5
    rollback(ws, "toy", "1.0.0", "oncall", now=T0 + 5 * DAY)  # Mar 7
    expected = {
        T0: None,
        T0 + DAY - HOUR: None,
        T0 + DAY: "1.0.0",
        T0 + 2 * DAY: "1.0.0",
        T0 + 3 * DAY: "2.0.0",
        T0 + 4 * DAY + 23 * HOUR: "2.0.0",
        T0 + 5 * DAY: "1.0.0",
        T0 + 100 * DAY: "1.0.0",
    }
    for when, version in expected.items():
        assert holder_at(ws, "toy", when) == version, when
    h = history(ws, "toy", at=T0 + 3 * DAY, proofs=True)
    assert [(e.version, e.kind) for e in h.events] == [
        ("1.0.0", "promote"),
        ("1.0.0", "demote"),
        ("2.0.0", "promote"),
    ]
    assert h.stages_at is not None and h.stages_at["archived"] == ["1.0.0"]
    assert all(e.proof and e.proof.startswith("c2sp.org/tlog-proof@v1") for e in h.events)
    d = h.to_dict()
    assert d["events"][0]["approvals"][0]["approver"] in ("rita@example.com", "vera@example.com")
    assert d["events"][0]["policy"]["sha256"]

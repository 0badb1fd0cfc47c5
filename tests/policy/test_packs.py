"""Every shipped pack, exercised on example versions: a compliant one and a deficient one."""

from __future__ import annotations

from ordinance.model import Evidence
from ordinance.policy import Status, evaluate, load_pack

from .conftest import Builder, approval


def _statuses(ev) -> dict[str, Status]:
    return {f.spec.id: f.status for f in ev.findings}


def test_baseline(build: Builder) -> None:
    pack = load_pack("ordinance:baseline")
    good = build.version()
    ok = evaluate(
        good,
        "production",
        [pack],
        build.ctx(approvals=[approval(good, "bob@bank.example", "model-validator")]),
    )
    assert ok.verdict == "pass", [(f.key, f.result.detail) for f in ok.findings]
    bad = build.version(version="0.9.0", biased=True, documentation={"summary": "x"})
    ev = evaluate(bad, "production", [pack], build.ctx())
    s = _statuses(ev)
    assert s["fairness-false-positive-rate"] == Status.FAIL
    assert s["model-card-core"] == Status.FAIL
    assert s["production-approval"] == Status.FAIL
    assert s["lineage-recorded"] == Status.PASS and s["evidence-integrity"] == Status.PASS
    assert ev.verdict == "fail"


def _eu_documents(build: Builder) -> list[Evidence]:
    """The documents the EU pack asks for beyond the builder's defaults."""
    return [
        build.evidence(kind, f"{kind}.md", f"# {kind}\n".encode(), media_type="text/markdown")
        for kind in ("risk_assessment", "human_oversight", "record_keeping", "monitoring_plan")
    ]


def test_eu_ai_act_high_risk(build: Builder) -> None:
    pack = load_pack("ordinance:eu-ai-act-high-risk")
    assert "production-approval" not in {r.id for r in pack.rules}  # disabled, replaced
    plain = build.version()
    v = build.version(evidence=[*plain.evidence, *_eu_documents(build)])
    approvals = [
        approval(v, "val@bank.example", "model-validator"),
        approval(v, "risk@bank.example", "risk-officer"),
    ]
    ev = evaluate(v, "production", [pack], build.ctx(approvals=approvals))
    assert ev.verdict == "pass", [(f.key, f.result.detail) for f in ev.findings if f.blocking]
    refs = {r for f in ev.findings for r in f.spec.references}
    for article in (
        "Art. 9 ",
        "Art. 10(",
        "Art. 11(",
        "Art. 12 ",
        "Art. 13(",
        "Art. 14 ",
        "Art. 15(",
        "Art. 72 ",
        "Annex IV 2(g)",
    ):
        assert any(article in r for r in refs), article
    # Art. 14 is human oversight in use, never the validator's sign-off (Art. 17)
    by_id = {f.spec.id: f.spec for f in ev.findings}
    assert by_id["art14-human-oversight"].type == "evidence.fresh"
    sign_off = by_id["independent-sign-off"]
    assert not any("Art. 14" in r for r in sign_off.references)
    assert any("Art. 17 Quality management system" in r for r in sign_off.references)
    # A biased version without a test report or oversight sign-off fails on those rules.
    bad = build.version(
        version="2.0.0",
        biased=True,
        evidence=[
            e
            for e in build.version(version="2.0.0", biased=True).evidence
            if e.kind != "validation_report"
        ],
    )
    s = _statuses(evaluate(bad, "production", [pack], build.ctx()))
    assert s["fairness-false-positive-rate"] == Status.FAIL
    assert s["annex-iv-2g-test-report"] == Status.ERROR
    assert s["independent-sign-off"] == Status.FAIL
    # and without the risk assessment, oversight, record-keeping and monitoring documents
    assert s["art9-risk-management"] == Status.ERROR
    assert s["art14-human-oversight"] == Status.ERROR
    assert s["art12-record-keeping"] == Status.ERROR
    assert s["art72-post-market-monitoring"] == Status.ERROR
    # Out of scope for a limited-risk model.
    low = build.version(version="3.0.0", risk_tier="limited", biased=True)
    assert {f.status for f in evaluate(low, "production", [pack], build.ctx()).findings} == {
        Status.NOT_APPLICABLE
    }


def test_bank_model_risk(build: Builder) -> None:
    pack = load_pack("ordinance:bank-model-risk")
    champion = build.version(version="0.9.0", metrics={"auc": 0.80})
    v = build.version(metrics={"auc": 0.805})
    approvals = [
        approval(v, "val@bank.example", "model-validator"),
        approval(v, "owner@bank.example", "model-owner"),
    ]
    ev = evaluate(v, "production", [pack], build.ctx(champion=champion, approvals=approvals))
    assert ev.verdict == "pass", [(f.key, f.result.detail) for f in ev.findings if f.blocking]
    # The author validating their own model is not independent validation; worse AUC fails.
    worse = build.version(version="1.1.0", metrics={"auc": 0.78})
    self_approved = [approval(worse, "alice@bank.example", "model-validator")]
    s = _statuses(
        evaluate(worse, "staging", [pack], build.ctx(champion=champion, approvals=self_approved))
    )
    assert s["independent-validation"] == Status.FAIL
    assert s["outcomes-analysis"] == Status.FAIL
    assert s["business-approval"] == Status.NOT_APPLICABLE


def test_nist_ai_rmf(build: Builder) -> None:
    pack = load_pack("ordinance:nist-ai-rmf")
    v = build.version()
    ev = evaluate(
        v, "production", [pack], build.ctx(approvals=[approval(v, "bob@bank.example", "reviewer")])
    )
    assert ev.verdict == "pass", [(f.key, f.result.detail) for f in ev.findings if f.blocking]
    assert all(any(r.startswith("NIST AI RMF") for r in f.spec.references) for f in ev.findings)
    # Without the explanation and with drifted inputs the pack warns; bias blocks.
    drifted = build.version(version="2.0.0", drift_shift=0.6, biased=True)
    plain = [e for e in drifted.evidence if e.kind != "explainability"]
    s = _statuses(
        evaluate(
            build.version(version="2.0.0", evidence=plain, biased=True),
            "staging",
            [pack],
            build.ctx(),
        )
    )
    assert s["measure-explained"] == Status.WARN
    assert s["measure-drift"] == Status.WARN
    assert s["measure-2.11-fairness-fpr"] == Status.FAIL

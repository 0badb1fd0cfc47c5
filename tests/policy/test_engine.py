"""Evaluating packs on versions: statuses, measured values, fail-closed errors, verdicts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ordinance.errors import InputError
from ordinance.policy import EvaluationContext, RuleContext, Status, evaluate, load_pack, load_packs
from ordinance.policy.evaluate import level_name

from .conftest import NOW, Builder, approval, write

PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: demo, version: "2.1"}
rules:
  - id: fnr-gap
    type: fairness.threshold
    params: {metric: false_positive_rate, aggregate: difference, max: 0.1}
    message: False positive rates may differ by at most 10 points.
    references: ["NIST AI RMF MEASURE 2.11"]
  - id: auc
    type: metrics.threshold
    params: {metric: auc, min: 0.7, max_regression: 0.02}
  - id: lineage
    type: lineage.required
    params: {fields: [datasets, code, training_run]}
"""


def _pack(tmp_path: Path, text: str = PACK, name: str = "pack.yaml"):
    return load_pack(write(tmp_path / name, text))


def test_fairness_fails_on_biased_version_and_passes_on_fair_one(
    build: Builder, tmp_path: Path
) -> None:
    pack = _pack(tmp_path)
    biased = evaluate(build.version(biased=True), "production", [pack], build.ctx())
    fair = evaluate(build.version(version="1.1.0"), "production", [pack], build.ctx())

    bad = biased.findings[0]
    assert bad.status == Status.FAIL and bad.blocking
    assert biased.verdict == "fail"
    # The measured value is the worst sensitive attribute's gap, computed from the table.
    assert bad.result.measured["worst"] == "ethnicity"
    assert bad.result.measured["value"] > 0.2
    per = bad.result.measured["by_sensitive"]["ethnicity"]
    assert per["groups"]["group_b"] > per["groups"]["group_a"] + 0.2
    assert "group_b" in bad.result.detail and "max 0.1" in bad.result.detail
    assert bad.result.evidence == (biased.version.evidence_of("predictions")[0].sha256,)

    good = fair.findings[0]
    assert good.status == Status.PASS
    assert good.result.measured["value"] <= 0.1
    assert set(good.result.measured["by_sensitive"]) == {"sex", "age_band", "ethnicity"}
    assert fair.verdict == "pass"
    assert [f.status for f in fair.findings] == [Status.PASS] * 3


def test_fairness_matches_the_metrics_module(build: Builder, tmp_path: Path) -> None:
    from ordinance.metrics.fairness import compute_fairness

    v = build.version(biased=True)
    pred = v.evidence_of("predictions")[0]
    expected = (
        compute_fairness(
            build.store.open_path(pred.sha256),
            y_true="default",
            y_pred="predicted",
            sensitive=["ethnicity"],
        )
        .disparity("false_positive_rate")
        .difference
    )
    pack = _pack(tmp_path, PACK.replace("max: 0.1}", "max: 0.1, sensitive: [ethnicity]}"))
    f = evaluate(v, "staging", [pack], build.ctx()).findings[0]
    assert f.result.measured["value"] == pytest.approx(expected)


def test_intersectional_groups_and_small_groups_left_out(build: Builder, tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        PACK.replace(
            "max: 0.1}", "max: 0.5, sensitive: [sex, age_band, ethnicity], min_group_size: 200}"
        ),
    )
    f = evaluate(build.version(), "staging", [pack], build.ctx()).findings[0]
    m = f.result.measured["by_sensitive"]["sex × age_band × ethnicity"]
    assert m["excluded_small_groups"], "some of the 24 cells have fewer than 200 rows"
    assert all(size >= 200 for size in m["group_sizes"].values())
    assert all(label.count(" / ") == 2 for label in m["groups"])


def test_confidence_bound_is_stricter_than_the_estimate(build: Builder, tmp_path: Path) -> None:
    text = PACK.replace("max: 0.1}", "max: 0.1, sensitive: [ethnicity]}")
    v = build.version()
    plain = evaluate(v, "staging", [_pack(tmp_path, text)], build.ctx()).findings[0]
    bounded_text = text.replace(
        "sensitive: [ethnicity]}", "sensitive: [ethnicity], use_confidence_bound: true}"
    )
    bounded = evaluate(
        v, "staging", [_pack(tmp_path, bounded_text, "b.yaml")], build.ctx()
    ).findings[0]
    assert bounded.result.measured["bound"] > plain.result.measured["value"]
    assert bounded.result.measured["value"] == pytest.approx(plain.result.measured["value"])


def test_five_fairness_rules_read_the_table_once(build: Builder) -> None:
    pack = load_pack("ordinance:baseline")
    rules = [r for r in pack.rules if r.type == "fairness.threshold"]
    v = build.version(biased=True)
    ctx = RuleContext(build.ctx(), v, "staging")
    for metric in (
        "false_positive_rate",
        "selection_rate",
        "true_positive_rate",
        "accuracy_score",
        "precision_score",
    ):
        from ordinance.policy.rules.fairness import FairnessParams, FairnessThreshold

        rule = FairnessThreshold(FairnessParams(metric=metric, aggregate="difference", max=0.5))
        assert rule.evaluate(ctx).status in (Status.PASS, Status.FAIL)
    for spec in rules:
        spec.rule.evaluate(ctx)
    keys = list(ctx._cache)
    assert sum(1 for k in keys if k[0] == "table") == 1
    # one report per sensitive column, shared by every metric
    assert sum(1 for k in keys if k[0] == "fairness") == 3


def test_metric_threshold_champion_challenger(build: Builder, tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    champion = build.version(version="0.9.0", metrics={"auc": 0.84})
    challenger = build.version(version="1.1.0", metrics={"auc": 0.81})
    ev = evaluate(challenger, "production", [pack], build.ctx(champion=champion))
    auc = ev.findings[1]
    assert auc.status == Status.FAIL
    assert auc.result.measured["champion"] == {"version": "0.9.0", "value": 0.84}
    assert auc.result.measured["regression"] == pytest.approx(0.03)
    assert "champion 0.9.0" in auc.result.detail
    # without a champion only the bound applies
    ev = evaluate(challenger, "production", [pack], build.ctx())
    assert ev.findings[1].status == Status.PASS


def test_missing_input_is_an_error_that_blocks(build: Builder, tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    v = build.version(metrics={"accuracy": 0.9})
    ev = evaluate(v, "staging", [pack], build.ctx(store=False))
    statuses = {f.spec.id: f.status for f in ev.findings}
    assert statuses == {"fnr-gap": Status.ERROR, "auc": Status.ERROR, "lineage": Status.PASS}
    assert "no evidence store" in ev.findings[0].result.detail
    assert "not registered" in ev.findings[1].result.detail
    assert ev.verdict == "fail" and len(ev.blocking) == 2


def test_warn_severity_and_errors_of_warn_rules(build: Builder, tmp_path: Path) -> None:
    pack = _pack(tmp_path, PACK.replace("    references:", "    severity: warn\n    references:"))
    ev = evaluate(build.version(biased=True), "staging", [pack], build.ctx())
    assert ev.findings[0].status == Status.WARN
    assert ev.verdict == "warn" and ev.passed


def test_crashing_rule_is_an_error_not_a_traceback(build: Builder, tmp_path: Path) -> None:
    # A predictions table whose label column is not binary makes the metrics module refuse.
    bad = build.evidence(
        "predictions",
        "p.csv",
        b"default,predicted,sex\n0,0,f\n1,2,m\n2,1,f\n",
        attributes={"y_true": "default", "y_pred": "predicted", "sensitive": ["sex"]},
    )
    v = build.version(evidence=[bad])
    ev = evaluate(v, "staging", [_pack(tmp_path)], build.ctx())
    assert ev.findings[0].status == Status.ERROR
    assert "not binary" in ev.findings[0].result.detail


def test_scope_makes_rules_not_applicable(build: Builder, tmp_path: Path) -> None:
    text = PACK.replace(
        'metadata: {name: demo, version: "2.1"}',
        'metadata: {name: demo, version: "2.1"}\nscope: {risk_tiers: [high]}',
    )
    ev = evaluate(
        build.version(risk_tier="minimal", biased=True),
        "production",
        [_pack(tmp_path, text)],
        build.ctx(),
    )
    assert {f.status for f in ev.findings} == {Status.NOT_APPLICABLE}
    assert "risk tier minimal" in ev.findings[0].result.detail
    # nothing was checked: that is not a pass (issue 12)
    assert ev.nothing_applied and ev.verdict == "fail"
    assert "not a pass" in ev.reasons()[0]


def test_approvals_report_like_tuf(build: Builder) -> None:
    pack = load_pack("ordinance:eu-ai-act-high-risk")
    v = build.version()
    approvals = [
        approval(v, "val@bank.example", "model-validator"),
        approval(v, "alice@bank.example", "risk-officer"),  # the author: separation of duties
        approval(v, "old@bank.example", "risk-officer", age_days=200),  # stale
        approval(v, "rev@bank.example", "risk-officer", revoked=True),
        approval(v, "other@bank.example", "risk-officer", identity_sha256="f" * 64),
    ]
    ev = evaluate(v, "production", [pack], build.ctx(approvals=approvals))
    f = next(f for f in ev.findings if f.spec.id == "independent-sign-off")
    assert f.status == Status.FAIL
    assert f.result.detail.startswith("1 of 2 approvals; missing: risk-officer")
    reasons = {r["approver"]: r["reason"] for r in f.result.measured["rejected"]}
    assert "separation of duties" in reasons["alice@bank.example"]
    assert "older than 90 days" in reasons["old@bank.example"]
    assert reasons["rev@bank.example"] == "revoked"
    assert "identity" in reasons["other@bank.example"]

    ok = [*approvals, approval(v, "risk@bank.example", "risk-officer")]
    f = next(
        f
        for f in evaluate(v, "production", [pack], build.ctx(approvals=ok)).findings
        if f.spec.id == "independent-sign-off"
    )
    assert f.status == Status.PASS and f.result.detail.startswith("2 of 2 approvals")
    # the rule is for production only
    f = next(
        f
        for f in evaluate(v, "staging", [pack], build.ctx(approvals=ok)).findings
        if f.spec.id == "independent-sign-off"
    )
    assert f.status == Status.NOT_APPLICABLE


def test_one_person_cannot_fill_two_roles(build: Builder, tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: two}
rules:
  - id: two-roles
    type: approvals.required
    params: {roles: {validator: 1, risk-officer: 1}}
""",
    )
    v = build.version()
    both = approval(v, "bob@bank.example", "validator", "risk-officer")
    f = evaluate(v, "production", [pack], build.ctx(approvals=[both])).findings[0]
    assert f.status == Status.FAIL and f.result.measured["approved"] == 1
    assert f.result.measured["missing"] in ({"validator": 1}, {"risk-officer": 1})


def test_evidence_freshness_uses_the_injected_clock(build: Builder, tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: fresh}
rules:
  - id: validation-fresh
    type: evidence.fresh
    params: {kind: validation_report, max_age_days: 45}
""",
    )
    v = build.version()
    assert evaluate(v, "staging", [pack], build.ctx()).findings[0].status == Status.PASS
    later = build.ctx(now=NOW + timedelta(days=30))
    f = evaluate(v, "staging", [pack], later).findings[0]
    assert f.status == Status.FAIL and f.result.measured["age_days"] == pytest.approx(60)


def test_integrity_detects_a_changed_evidence_file(build: Builder) -> None:
    pack = load_pack("ordinance:baseline")
    v = build.version()
    pred = v.evidence_of("predictions")[0]
    blob = build.store.open_path(pred.sha256)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"0,0,1,female,18-24,group_a\n")
    f = next(
        f
        for f in evaluate(v, "staging", [pack], build.ctx()).findings
        if f.spec.id == "evidence-integrity"
    )
    assert f.status == Status.FAIL and f.result.measured["mismatched"] == ["predictions.csv"]


def test_explainability_must_be_bound_to_this_model(build: Builder) -> None:
    pack = load_pack("ordinance:eu-ai-act-high-risk")
    v = build.version()

    def status(version):
        return next(
            f
            for f in evaluate(version, "staging", [pack], build.ctx()).findings
            if f.spec.id == "art13-explainability"
        )

    assert status(v).status == Status.PASS
    # The same artifact does not satisfy another version (other model files).
    v2 = build.version(version="1.1.0", evidence=v.evidence)
    f = status(v2)
    assert f.status == Status.FAIL and "bound to another model" in f.result.detail


def test_drift_between_reference_and_current(build: Builder) -> None:
    pack = load_pack("ordinance:nist-ai-rmf")
    steady = next(
        f
        for f in evaluate(build.version(), "staging", [pack], build.ctx()).findings
        if f.spec.id == "measure-drift"
    )
    shifted = next(
        f
        for f in evaluate(
            build.version(version="2.0.0", drift_shift=0.6), "staging", [pack], build.ctx()
        ).findings
        if f.spec.id == "measure-drift"
    )
    assert steady.status == Status.PASS and steady.result.measured["value"] < 0.25
    assert shifted.status == Status.WARN and shifted.result.measured["worst"] == "income"
    assert set(steady.result.measured["features"]) == {"income", "sex", "age_band", "ethnicity"}


def test_empty_pack_list_is_refused(build: Builder) -> None:
    with pytest.raises(InputError):
        evaluate(build.version(), "staging", [], build.ctx())


def test_naive_clock_is_refused() -> None:
    with pytest.raises(InputError):
        EvaluationContext(now=NOW.replace(tzinfo=None))


def test_vsa_predicate(build: Builder, tmp_path: Path) -> None:
    packs = load_packs([write(tmp_path / "pack.yaml", PACK)])
    fair = evaluate(build.version(), "production", packs, build.ctx())
    p = fair.to_vsa_predicate("https://ordinance.dev/ordinance", "models:/credit-risk/1.0.0")
    assert p["verificationResult"] == "PASSED"
    assert p["verifiedLevels"] == ["ORDINANCE_POLICY_DEMO"]
    assert p["policy"] == {
        "uri": "pack.yaml",  # named as referenced (an absolute path: its file name), no host path
        "digest": {"sha256": packs[0].sha256},
    }
    assert p["inputAttestations"] == [
        {
            "uri": "ordinance:evidence/predictions/predictions.csv",
            "digest": {"sha256": fair.version.evidence_of("predictions")[0].sha256},
        }
    ]
    assert p["timeVerified"] == "2026-03-01T12:00:00Z"
    failed = evaluate(build.version(biased=True), "production", packs, build.ctx())
    q = failed.to_vsa_predicate("https://ordinance.dev/ordinance", "models:/credit-risk/1.0.0")
    assert q["verificationResult"] == "FAILED" and q["verifiedLevels"] == ["FAILED"]
    assert not level_name("slsa-x").startswith("SLSA_")


def test_to_dict_is_json_and_complete(build: Builder, tmp_path: Path) -> None:
    import json

    ev = evaluate(build.version(biased=True), "staging", [_pack(tmp_path)], build.ctx())
    d = json.loads(json.dumps(ev.to_dict()))
    assert {
        "model",
        "version",
        "stage",
        "verdict",
        "evaluated_at",
        "policies",
        "results",
        "waivers",
        "inputs",
        "identity",
        "summary",
    } <= set(d)
    assert d["policies"][0]["sha256"] == ev.packs[0].sha256
    r = d["results"][0]
    assert {
        "rule",
        "type",
        "status",
        "severity",
        "measured",
        "threshold",
        "message",
        "references",
        "waiver",
        "evidence",
    } <= set(r)
    assert r["status"] == "fail" and r["threshold"]["max"] == 0.1
    assert r["references"] == ["NIST AI RMF MEASURE 2.11"]
    assert r["evidence"][0]["kind"] == "predictions"
    assert d["summary"]["fail"] == 1 and d["summary"]["total"] == 3

"""Renderers: SARIF validates against the 2.1.0 schema, JUnit parses, GitHub commands escape."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ordinance.policy import Evaluation, evaluate, load_packs, render
from ordinance.policy.formats import render_github, render_markdown, sarif_log

from .conftest import NOW, Builder, approval


@pytest.fixture
def evaluation(build: Builder) -> Evaluation:
    from ordinance.policy.waivers import Waiver

    packs = load_packs(["ordinance:eu-ai-act-high-risk", "ordinance:nist-ai-rmf"])
    v = build.version(biased=True)
    waiver = Waiver(
        id="W-7",
        rule="nist-ai-rmf/measure-2.11-fairness-fpr",
        model="credit-risk",
        versions="1.*",
        justification="Mitigated by manual review of every decline.",
        approved_by="risk@bank.example",
        expires_at=NOW.replace(year=2027),
    )
    ctx = build.ctx(
        approvals=[approval(v, "val@bank.example", "model-validator")], waivers=[waiver]
    )
    return evaluate(v, "production", packs, ctx)


def test_sarif_validates_against_the_schema(evaluation: Evaluation, shared: Path) -> None:
    import jsonschema

    schema = json.loads((shared / "schemas" / "sarif-schema-2.1.0.json").read_text())
    log = json.loads(render(evaluation, "sarif"))
    jsonschema.validate(log, schema)
    run = log["runs"][0]
    assert len(run["results"]) == len(evaluation.findings) == len(run["tool"]["driver"]["rules"])
    kinds = {r["kind"] for r in run["results"]}
    assert {"pass", "fail"} <= kinds
    waived = [r for r in run["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in waived] == ["nist-ai-rmf/measure-2.11-fairness-fpr"]
    assert all(r["level"] == "none" for r in run["results"] if r["kind"] != "fail")


def test_sarif_locations_point_into_the_pack(evaluation: Evaluation) -> None:
    log = sarif_log(evaluation, root=Path(__file__).resolve().parents[2])
    first = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"]["uri"].endswith(".yaml")
    assert first["region"]["startLine"] > 1


def test_junit_has_a_testcase_per_rule_passes_included(evaluation: Evaluation) -> None:
    root = ET.fromstring(render(evaluation, "junit"))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(evaluation.findings)
    by_name = {(c.get("classname"), c.get("name")): c for c in cases}
    assert (
        by_name[("ordinance.eu-ai-act-high-risk", "fairness-false-positive-rate")].find("failure")
        is not None
    )
    passed = [
        c
        for c in cases
        if not list(c.findall("failure")) + list(c.findall("error")) + list(c.findall("skipped"))
    ]
    assert passed, "passing rules appear as testcases too"
    assert (
        by_name[("ordinance.nist-ai-rmf", "measure-2.11-fairness-fpr")].find("skipped") is not None
    )
    assert int(root.get("tests")) == len(cases)
    assert int(root.get("failures")) == sum(1 for f in evaluation.findings if f.status == "fail")


def test_github_commands_and_summary(evaluation: Evaluation) -> None:
    out = render_github(evaluation)
    lines = out.splitlines()
    assert any(line.startswith("::error title=ordinance eu-ai-act-high-risk/") for line in lines)
    assert any(
        line.startswith("::notice title=ordinance nist-ai-rmf/measure-2.11") for line in lines
    )
    assert lines[-1].startswith("::notice title=ordinance verdict::credit-risk@1.0.0 → production")
    for line in lines:  # one command per line, properties escaped
        head = line.split("::")[1]
        assert "\n" not in line and head.count(",") <= 2
    md = render_markdown(evaluation)
    assert md.startswith("## Ordinance check: `credit-risk@1.0.0` → `production`: **FAIL**")
    assert md.count("\n| ") >= len(evaluation.findings)


def test_text_and_json(evaluation: Evaluation) -> None:
    text = render(evaluation, "text")
    assert text.startswith("credit-risk@1.0.0 → production: FAIL")
    assert "1 of 2 approvals; missing: risk-officer" in text
    d = json.loads(render(evaluation, "json"))
    assert d["verdict"] == "fail" and len(d["results"]) == len(evaluation.findings)
    assert d["waivers"][0]["status"] == "applied"

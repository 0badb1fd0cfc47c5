"""``ordinance check`` and ``ordinance policy`` through the real entry point and a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli, small_manifest

from .conftest import csv_bytes, prediction_table, write

PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: gate, version: "1"}
rules:
  - id: fpr-gap
    type: fairness.threshold
    params: {metric: false_positive_rate, aggregate: difference, max: 0.1, sensitive: [sex]}
    references: ["NIST AI RMF MEASURE 2.11"]
  - id: auc
    type: metrics.threshold
    params: {metric: auc, min: 0.7}
  - id: card
    type: documentation.required
    severity: warn
    params: {fields: [intended_use, ethical_considerations]}
"""


def _workspace(tmp_path: Path, *, biased: bool) -> Path:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    manifest = small_manifest(tmp_path / "v1", version="1.0.0")
    frame = prediction_table(biased=biased, n=600)
    frame = frame.assign(y=frame["default"], yhat=frame["predicted"])
    if biased:  # wrongful declines for women only
        women_neg = (frame["sex"] == "female") & (frame["y"] == 0)
        frame.loc[women_neg & (frame.index % 3 == 0), "yhat"] = 1
    (tmp_path / "v1" / "preds.csv").write_bytes(csv_bytes(frame[["y", "yhat", "sex"]]))
    r = run_cli("--home", home, "register", manifest)
    assert r.code == 0, r.err
    return home


def test_check_json_exit_codes_and_record(tmp_path: Path) -> None:
    home = _workspace(tmp_path, biased=True)
    pack = write(tmp_path / "gate.yaml", PACK)
    r = run_cli(
        "--home",
        home,
        "check",
        "toy@1.0.0",
        "--stage",
        "staging",
        "--policy",
        pack,
        "--format",
        "json",
    )
    assert r.code == 1, r.err
    assert "blocked by gate/fpr-gap" in r.err
    d = r.json()
    assert d["verdict"] == "fail" and d["model"] == "toy" and d["stage"] == "staging"
    by_rule = {x["rule"]: x for x in d["results"]}
    assert by_rule["fpr-gap"]["status"] == "fail" and by_rule["fpr-gap"]["measured"]["value"] > 0.1
    assert by_rule["auc"]["status"] == "pass" and by_rule["auc"]["measured"]["value"] == 0.8
    assert by_rule["card"]["status"] == "warn"
    assert d["policies"][0]["sha256"] and d["policies"][0]["name"] == "gate"

    # The evaluation was recorded with its policy digest.
    from ordinance.workspace import Workspace

    with Workspace.open(home) as ws:
        [stored] = ws.registry().evaluations("toy", "1.0.0")
    assert stored["verdict"] == "fail" and stored["policy_digests"] == {
        "gate": d["policies"][0]["sha256"]
    }


def test_check_passes_warns_and_fail_on_warn(tmp_path: Path) -> None:
    home = _workspace(tmp_path, biased=False)
    pack = write(tmp_path / "gate.yaml", PACK)
    args = ("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--policy", pack)
    r = run_cli(*args)
    assert r.code == 0, r.err
    assert "WARN" in r.out and "gate/card" in r.out and "PASS" in r.out
    r = run_cli(*args, "--fail-on-warn")
    assert r.code == 1 and "--fail-on-warn" in r.err


def _signed_waiver(home: Path, tmp_path: Path) -> Path:
    """A waiver of gate/fpr-gap signed by a risk officer in the roster (not recorded)."""
    from datetime import UTC, datetime, timedelta

    from ordinance.approvals import Member, Roster, apply_roster, sign_waiver
    from ordinance.signing import generate_key, load_signer
    from ordinance.workspace import Workspace

    generate_key(tmp_path / "rita.key", "rita@bank.example")
    rita = load_signer(tmp_path / "rita.key")
    now = datetime.now(UTC)
    with Workspace.open(home) as ws:
        roster = Roster(
            (Member("rita@bank.example", frozenset({"risk-officer"}), (rita.verifier,)),)
        )
        apply_roster(ws, roster, actor="ops", now=now - timedelta(minutes=1))
        env = sign_waiver(
            ws.registry().get_version("toy", "1.0.0"),
            rita,
            "rita@bank.example",
            rule="gate/fpr-gap",
            justification="Known gap, mitigated by manual review of declines until 1.1.",
            expires_at=now + timedelta(days=30),
            now=now - timedelta(seconds=5),
        )
    return write(tmp_path / "waiver.json", env.to_bytes().decode())


def test_check_refuses_plain_text_waivers(tmp_path: Path) -> None:
    home = _workspace(tmp_path, biased=True)
    pack = write(tmp_path / "gate.yaml", PACK)
    waivers = write(
        tmp_path / "waivers.yaml",
        """\
apiVersion: ordinance/v1
kind: Waivers
waivers:
  - id: W-1
    rule: gate/fpr-gap
    model: toy
    versions: "1.0.*"
    justification: Known gap, mitigated by manual review of declines until 1.1.
    approved_by: risk@bank.example
    expires: 2999-01-01
""",
    )
    r = run_cli(
        "--home",
        home,
        "check",
        "toy@1.0.0",
        "--stage",
        "staging",
        "--policy",
        pack,
        "--waivers",
        waivers,
    )
    assert r.code == 2, r.err
    assert "only DSSE-signed waivers count" in r.err and "Traceback" not in r.err


def test_check_waiver_and_output_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _workspace(tmp_path, biased=True)
    pack = write(tmp_path / "gate.yaml", PACK)
    waivers = _signed_waiver(home, tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = run_cli(
        "--home",
        home,
        "check",
        "toy@1.0.0",
        "--stage",
        "staging",
        "--policy",
        pack,
        "--waivers",
        waivers,
        "--format",
        "github",
    )
    assert r.code == 0, r.err
    assert "::notice title=ordinance gate/fpr-gap (waived)" in r.out
    assert "::warning " in r.out
    assert "| 🟡 waived | `gate/fpr-gap`" in summary.read_text()

    out = tmp_path / "report.sarif"
    r = run_cli(
        "--home",
        home,
        "check",
        "toy@1.0.0",
        "--stage",
        "staging",
        "--policy",
        pack,
        "--waivers",
        waivers,
        "--format",
        "sarif",
        "--out",
        out,
    )
    assert r.code == 0, r.err
    sarif = json.loads(out.read_text())
    assert sarif["runs"][0]["results"][0]["suppressions"][0]["status"] == "accepted"


def test_check_bad_input_exits_2(tmp_path: Path) -> None:
    home = _workspace(tmp_path, biased=False)
    bad = write(tmp_path / "bad.yaml", PACK.replace("max: 0.1", "max: 1.5"))
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--policy", bad)
    assert r.code == 2 and f"{bad}:7:66: rules.0.params.max: Input should be less" in r.err
    r = run_cli("--home", home, "check", "toy@9.9.9", "--stage", "staging")
    assert r.code == 2
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "heaven")
    assert r.code == 2 and "unknown stage" in r.err


def test_check_uses_configured_default_baseline(tmp_path: Path) -> None:
    home = _workspace(tmp_path, biased=False)
    r = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--format", "json")
    d = json.loads(r.out)
    assert [p["uri"] for p in d["policies"]] == ["ordinance:baseline"]
    assert r.code == {"pass": 0, "warn": 0, "fail": 1}[d["verdict"]]
    assert {x["rule"] for x in d["results"]} >= {"lineage-recorded", "evidence-integrity"}


def test_policy_lint_explain_list(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", PACK)
    bad = write(tmp_path / "bad.yaml", PACK.replace("type: metrics.threshold", "type: metric"))
    r = run_cli("policy", "lint", good, "ordinance:eu-ai-act-high-risk")
    assert r.code == 0 and "ok" in r.out
    r = run_cli("policy", "lint", good, bad)
    assert r.code == 2 and f"{bad}:10:5: rules.1.type: unknown rule type 'metric'" in r.err
    r = run_cli("policy", "explain", good)
    assert r.code == 0 and "Blocks promotion unless the registered metric auc" in r.out
    r = run_cli("policy", "list", "--format", "json")
    assert {p["name"] for p in r.json()} >= {
        "ordinance:baseline",
        "ordinance:eu-ai-act-high-risk",
        "ordinance:bank-model-risk",
        "ordinance:nist-ai-rmf",
    }

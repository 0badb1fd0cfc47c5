"""Evidence attached after registration: stored, logged, append-only; `ordinance explain` uses it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import run_cli, small_manifest


def _ws(tmp_path: Path, db_url: str) -> Path:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "--db", db_url, "init").code == 0
    return home


def test_attach_list_and_append_only(tmp_path: Path, db_url: str) -> None:
    home = _ws(tmp_path, db_url)
    base = ("--home", home, "--db", db_url)
    assert run_cli(*base, "register", small_manifest(tmp_path / "m")).code == 0
    report = tmp_path / "validation.md"
    report.write_text("# independent validation\nconceptually sound\n")
    r = run_cli(
        *base,
        "evidence",
        "add",
        "toy@1.0.0",
        report,
        "--kind",
        "validation_report",
        "--attr",
        "validator=vera",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    added = r.json()
    assert added["created"] is True and added["log_index"] == 1  # 0 is the registration
    assert added["attributes"] == {"validator": "vera"}
    # identical again: no-op; other bytes under the same name: refused, nothing changes
    assert (
        run_cli(
            *base,
            "evidence",
            "add",
            "toy@1.0.0",
            report,
            "--kind",
            "validation_report",
            "--format",
            "json",
        ).json()["created"]
        is False
    )
    report.write_text("# tampered\n")
    r = run_cli(*base, "evidence", "add", "toy@1.0.0", report, "--kind", "validation_report")
    assert r.code == 2 and "other content" in r.err
    r = run_cli(*base, "evidence", "list", "toy@1.0.0", "--format", "json")
    kinds = [e["kind"] for e in r.json()]
    assert kinds.count("validation_report") == 1
    r = run_cli(*base, "log", "verify", "--format", "json")
    assert r.code == 0, r.err


def test_attach_rejects_bad_input(tmp_path: Path, db_url: str) -> None:
    home = _ws(tmp_path, db_url)
    base = ("--home", home, "--db", db_url)
    assert run_cli(*base, "register", small_manifest(tmp_path / "m")).code == 0
    assert (
        run_cli(*base, "evidence", "add", "toy@1.0.0", tmp_path / "nope", "--kind", "x").code == 2
    )
    f = tmp_path / "f.txt"
    f.write_text("x")
    assert run_cli(*base, "evidence", "add", "toy@1.0.0", f, "--kind", "Bad Kind").code == 2
    assert run_cli(*base, "evidence", "add", "toy@9", f, "--kind", "other").code == 2
    assert run_cli(*base, "evidence", "add", "toy", f, "--kind", "other").code == 2


@pytest.mark.slow
def test_explain_registers_an_artifact_bound_to_its_version(tmp_path: Path) -> None:
    from ordinance.examples.credit_risk import write_version
    from ordinance.policy import EvaluationContext, evaluate, load_pack
    from ordinance.workspace import Workspace

    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    v1 = write_version(tmp_path / "v1", version="1.0.0", variant="proxy", rows=800)
    v2 = write_version(tmp_path / "v2", version="1.1.0", variant="fair", rows=800)
    for v in (v1, v2):
        assert run_cli("--home", home, "register", v.manifest).code == 0
    r = run_cli(
        "--home",
        home,
        "explain",
        "credit-risk@1.0.0",
        "--data",
        v1.test_data,
        "--target",
        "default",
        "--out",
        tmp_path / "xai",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    assert r.json()["registered"] is True
    pack = tmp_path / "xai.yaml"
    pack.write_text(
        "apiVersion: ordinance/v1\nkind: PolicyPack\nmetadata: {name: xai}\nrules:\n"
        "  - id: importance\n    type: explainability.required\n"
        "    params: {kinds: [permutation_importance]}\n"
    )
    packs = [load_pack(pack)]
    with Workspace.open(home) as ws:
        reg = ws.registry()
        good = reg.get_version("credit-risk", "1.0.0")
        other = reg.get_version("credit-risk", "1.1.0")
        # Copy 1.0.0's artifact onto 1.1.0: it must not count there.
        art = next(e for e in good.evidence if e.kind == "explainability")
        ws.attach_evidence(
            "credit-risk",
            "1.1.0",
            ws.evidence.open_path(art.sha256),
            kind="explainability",
            name="borrowed.json",
        )
        other = reg.get_version("credit-risk", "1.1.0")
        ctx = EvaluationContext(now=datetime.now(UTC), evidence=ws.evidence)
        ok = evaluate(good, "staging", packs, ctx)
        bad = evaluate(other, "staging", packs, ctx)
    assert ok.verdict == "pass"
    assert bad.verdict == "fail"
    [finding] = bad.findings
    assert finding.result.measured["not_bound"] == ["borrowed.json"]

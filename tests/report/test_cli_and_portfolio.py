"""The CLI commands, the portfolio report, the catalog and the optional PDF extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli
from ordinance.report import build_portfolio_context, publish_catalog, render_document
from ordinance.workspace import Workspace


def test_card_cli_writes_each_format(demo_home: Path, tmp_path: Path) -> None:
    for fmt in ("md", "html", "json"):
        out = tmp_path / f"card.{fmt}"
        res = run_cli(
            "--home", demo_home, "card", "credit-risk@1.1.0", "--format", fmt, "--out", out
        )
        assert res.code == 0, res.err
        assert "credit-risk" in out.read_text()
    res = run_cli("--home", demo_home, "card", "credit-risk", "--format", "json")
    assert res.code == 0 and res.json()["details"]["version"] == "1.1.0"  # latest


def test_cli_errors_have_usage_exit_codes(demo_home: Path) -> None:
    res = run_cli("--home", demo_home, "card", "nope@1.0")
    assert res.code == 2 and "unknown model 'nope'" in res.err
    res = run_cli("--home", demo_home, "report", "credit-risk@1.1.0", "--format", "pdf")
    assert res.code == 2 and "--out" in res.err
    res = run_cli("--home", demo_home, "report", "credit-risk@1.1.0", "--since", "2026-01-01")
    assert res.code == 2 and "portfolio" in res.err
    res = run_cli("--home", demo_home, "report", "portfolio", "--since", "yesterday")
    assert res.code == 2 and "bad date" in res.err


def test_report_cli_and_template_override(demo_home: Path, tmp_path: Path) -> None:
    res = run_cli("--home", demo_home, "report", "credit-risk@1.0.0", "--format", "json")
    assert res.code == 0
    data = res.json()
    assert data["verdict"] == data["evaluation"]["verdict"]
    assert {r["rule"] for r in data["rules"]} >= {"fairness-false-positive-rate"}
    assert data["log"]["verification"]["ok"] is True
    assert data["audit_trail"][0]["kind"] == "registration"
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text("<p>{{ details.ref }} {{ verdict }}</p>\n")
    out = tmp_path / "r.html"
    res = run_cli(
        "--home", demo_home, "report", "credit-risk@1.0.0", "--templates", templates, "--out", out
    )
    assert res.code == 0, res.err
    assert out.read_text() == f"<p>credit-risk@1.0.0 {data['verdict']}</p>\n"


def test_portfolio_lists_models_rules_waivers_transitions_and_coverage(
    demo_ws: Workspace,
) -> None:
    ctx = build_portfolio_context(demo_ws)
    (model,) = ctx["models"]
    assert model["name"] == "credit-risk" and model["current"] == "1.1.0"
    assert [v["stage"] for v in model["versions"]] == ["archived", "production"]
    assert ctx["totals"] == {
        "models": 1,
        "versions": 2,
        "stages": [{"stage": "archived", "count": 1}, {"stage": "production", "count": 1}],
        "verdicts": ctx["totals"]["verdicts"],
    }
    # rule detail for the current version (1.1.0 passes); counts for every version
    assert ctx["failing_rules"] == [] and ctx["warning_rules"] == []
    old = model["versions"][0]
    assert old["version"] == "1.0.0" and old["verdict"] == "warn" and old["warnings"] == 1
    (waiver,) = ctx["expiring_waivers"]
    assert waiver["rule"] == "fairness-false-positive-rate" and waiver["version"] == "1.0.0"
    # the production version has no validation report: revalidation is overdue
    assert [(r["version"], r["last_validation"]) for r in ctx["overdue_revalidations"]] == [
        ("1.1.0", None)
    ]
    assert len(ctx["transitions"]) == len(demo_ws.registry().transitions())
    (cov,) = ctx["coverage"]
    status = {s["section"]: s["status"] for s in cov["sections"]}
    assert status["1"] == status["2"] == status["6"] == "covered"
    # honest coverage: policy evaluations are not a risk-management system (Art. 9), and a
    # drift check is not a post-market monitoring plan (Art. 72)
    assert status["5"] == status["8"] == status["9"] == "gap"
    for s in cov["sections"]:
        assert (s["status"] == "gap") == (not s["evidence"]), s


def test_portfolio_period_filters_transitions(demo_home: Path, tmp_path: Path) -> None:
    res = run_cli("--home", demo_home, "report", "portfolio", "--format", "json")
    everything = res.json()["transitions"]
    assert everything
    first = everything[0]["at"]
    res = run_cli("--home", demo_home, "report", "portfolio", "--format", "json", "--until", first)
    assert res.code == 0, res.err
    data = res.json()
    assert [t["at"] for t in data["transitions"]] == [
        t["at"] for t in everything if t["at"] <= first
    ]
    assert data["period"]["as_of"] == first
    out = tmp_path / "p.html"
    res = run_cli("--home", demo_home, "report", "portfolio", "--out", out)
    assert res.code == 0 and "Annex IV" in out.read_text()


def test_publish_writes_an_index_and_a_page_per_model(demo_ws: Workspace, tmp_path: Path) -> None:
    written = publish_catalog(demo_ws, tmp_path / "site")
    assert [p.name for p in written] == [
        "index.html",
        "credit-risk.html",
        "credit-risk@1.1.0.html",
        "credit-risk@1.0.0.html",
        "credit-risk-report.html",
    ]
    index = written[0].read_text()
    assert '<a href="credit-risk.html">credit-risk</a>' in index
    # every version, its stage and latest recorded verdict, card and report links
    for version, stage in (("1.1.0", "production"), ("1.0.0", "archived")):
        assert f'href="credit-risk@{version}.html"' in index
        assert f'data-stage="{stage}"' in index
    assert 'href="credit-risk-report.html"' in index
    assert 'data-verdict="pass"' in index and 'data-verdict="warn"' in index
    assert 'type="search"' in index and 'id="f-verdict"' in index  # search and filters
    assert "<script>" in index and "src=" not in index  # inline, nothing fetched
    page = written[1].read_text()
    assert "Model card: credit-risk@1.1.0" in page and 'href="index.html"' in page
    assert "Model card: credit-risk@1.0.0" in written[3].read_text()
    assert "Scope and verdict" in written[4].read_text()
    res = run_cli("--home", demo_ws.home, "publish", "--out", tmp_path / "site2")
    assert res.code == 0 and (tmp_path / "site2" / "credit-risk.html").read_bytes() == page.encode()


def _run(code: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_context_layer_imports_no_renderer_stack() -> None:
    result = _run(
        "import json, sys\n"
        "import ordinance.report, ordinance.report.context\n"
        "print(json.dumps(sorted(k for k in sys.modules"
        " if k.split('.')[0] in ('jinja2', 'weasyprint', 'click', 'rich'))))\n".replace(
            "print(json.dumps(", "print(json.dumps({'mods': "
        ).replace("))))", "))}))")
    )
    assert result["mods"] == []


def test_pdf_without_weasyprint_says_what_to_install(tmp_path: Path) -> None:
    # An interpreter where `import weasyprint` fails, as on an install without ordinance[pdf].
    result = _run(
        "import json, sys\n"
        "sys.modules['weasyprint'] = None\n"
        "from ordinance.errors import MissingExtraError\n"
        "from ordinance.report import render_document\n"
        "ctx = {'title': 't', 'date': None, 'generator': {'name': 'ordinance', 'version': '0'},"
        " 'models': []}\n"
        "html = render_document('catalog', ctx, 'html')\n"
        "try:\n"
        "    render_document('catalog', ctx, 'pdf')\n"
        "except MissingExtraError as e:\n"
        "    print(json.dumps({'msg': e.message, 'code': e.exit_code, 'html': len(html)}))\n"
    )
    assert (
        result["msg"]
        == "this needs the optional 'weasyprint' package: pip install 'ordinance[pdf]'"
    )
    assert result["code"] == 3
    assert isinstance(result["html"], int) and result["html"] > 100


@pytest.mark.parametrize("fmt", ["md", "pdf"])
def test_formats_a_document_does_not_come_in_are_refused(demo_ws: Workspace, fmt: str) -> None:
    from ordinance.errors import InputError
    from ordinance.report import render_portfolio

    with pytest.raises(InputError):
        render_portfolio(demo_ws, "md" if fmt == "md" else "docx", demo_ws.home / "x")


def test_portfolio_names_the_failing_rules_of_a_current_version(evil_ws: Workspace) -> None:
    ctx = build_portfolio_context(evil_ws)
    assert ctx["failing_rules"], "the evil model's only version fails the baseline pack"
    assert {r["model"] for r in ctx["failing_rules"]} == {"evil-model"}
    assert all(r["status"] in ("fail", "error") for r in ctx["failing_rules"])
    html = render_document("portfolio", ctx, "html").decode()
    for r in ctx["failing_rules"]:
        assert f"{r['pack']}/{r['rule']}" in html

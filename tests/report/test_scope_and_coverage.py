"""Scope first (page 1 names every pack, its verdict, blocking failures, waivers and open
approvals) and regulatory coverage that never ticks an item without evidence."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from ordinance.demo import SHIPPED_PACKS
from ordinance.report import build_report_context, render_document
from ordinance.report.coverage import FRAMEWORKS, check_names, coverage, load_framework, run_check
from ordinance.workspace import Workspace


def _page_one(html: bytes) -> str:
    text = html.decode()
    start = text.index('class="first-page"')
    end = text.index("</section>", start)
    return unescape(re.sub(r"<[^>]+>", " ", text[start:end]))


@pytest.fixture(scope="module")
def all_packs(demo_home: Path) -> dict[str, Any]:
    with Workspace.open(demo_home) as ws:
        return build_report_context(
            ws, "credit-risk", "1.0.0", stage="production", packs=SHIPPED_PACKS
        )


def test_demo_reports_page_one_names_every_pack_and_each_blocking_failure(
    demo_home: Path,
) -> None:
    from ordinance.demo import run_demo  # noqa: F401 - the fixture ran it

    reports = sorted((demo_home.parent / "reports").glob("*report*.html")) + sorted(
        (demo_home.parent / "reports").glob("*all-packs*.html")
    )
    assert reports, "the demo wrote no HTML reports"
    with Workspace.open(demo_home) as ws:
        for path in reports:
            asked = SHIPPED_PACKS if "all-packs" in path.name else None
            ctx = build_report_context(ws, "credit-risk", "1.1.0", stage="production", packs=asked)
            page = " ".join(_page_one(path.read_bytes()).split())
            assert ctx["scope"]["packs"], path
            for p in ctx["scope"]["packs"]:
                assert re.search(rf"\b{re.escape(p['name'])} {re.escape(p['version'])}\b", page), (
                    path,
                    p["name"],
                )
            assert f"Blocking failures ({len(ctx['scope']['blocking'])})" in page
            for f in ctx["scope"]["blocking"]:
                assert f["key"] in page, (path, f["key"])
            assert ctx["verdict"] in page


def test_all_packs_page_one(all_packs: dict[str, Any]) -> None:
    scope = all_packs["scope"]
    assert [p["name"] for p in scope["packs"]] == [
        "baseline",
        "eu-ai-act-high-risk",
        "bank-model-risk",
        "nist-ai-rmf",
    ]
    assert scope["verdict"] == "fail" and scope["blocking"]
    page = _page_one(render_document("report", all_packs, "html"))
    # the waived fairness failure is shown as waived, never as a warning
    waived = {f["key"] for f in scope["waived"]}
    assert "baseline/fairness-false-positive-rate" in waived
    assert not any(f["key"] in waived for f in scope["warnings"])
    w_section = page[page.index("Waived failures") : page.index("Active waivers")]
    assert "baseline/fairness-false-positive-rate waived" in " ".join(w_section.split())
    assert "W-credit-risk-1.0.0-fairness-false-positive-rate" in page
    assert "Open approvals" in page and "missing" in page
    assert all_packs["log"]["root_base64"] in page and "ordinance report verify" in page


def test_configured_scope_is_the_stage_packs(demo_ws: Workspace) -> None:
    ctx = build_report_context(demo_ws, "credit-risk", "1.1.0", stage="production")
    assert [p["name"] for p in ctx["scope"]["packs"]] == ["baseline"]
    assert ctx["scope"]["asked"] is False and ctx["verdict"] == "pass"


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_every_check_in_the_mappings_is_known(name: str) -> None:
    fw = load_framework(name)
    assert fw["items"] and check_names(fw)


def test_annex_iv_has_nine_items_and_sr_11_7_the_validation_sections() -> None:
    assert [i["id"] for i in load_framework("annex-iv")["items"]] == [str(n) for n in range(1, 10)]
    assert {i["id"] for i in load_framework("sr-11-7")["items"]} >= {
        "conceptual-soundness",
        "data",
        "outcomes-analysis",
        "sensitivity",
        "limitations-assumptions",
        "ongoing-monitoring",
        "validator-independence",
        "findings-register",
    }


def _assert_no_tick_without_evidence(ctx: dict[str, Any]) -> None:
    for fw in ctx["frameworks"]:
        for item in fw["items"]:
            for group in item["groups"]:
                refs = [r for c in group["any_of"] for r in run_check(ctx, c)]
                assert group["met"] == bool(refs), (fw["framework"], item["id"], group)
                assert {e["ref"] for e in group["evidence"]} == set(refs)
            if item["status"] != "gap":
                assert item["evidence"], (fw["framework"], item["id"])
            if item["status"] == "covered":
                assert all(g["met"] for g in item["groups"])


def test_no_item_is_ticked_without_evidence(all_packs: dict[str, Any]) -> None:
    _assert_no_tick_without_evidence(all_packs)
    annex = {i["id"]: i for i in all_packs["frameworks"][1]["items"]}
    # the demo has no risk-management file, standards, declaration or monitoring plan
    for gap in ("5", "7", "8", "9"):
        assert annex[gap]["status"] == "gap" and not annex[gap]["evidence"]
    # evidence names are printed, not hidden in tooltips
    html = render_document("report", all_packs, "html").decode()
    for ref in annex["2"]["evidence"]:
        assert unescape(ref["ref"]).replace("…", "").split(" sha256")[0] in unescape(html)


def test_stripping_the_evidence_turns_items_into_gaps(all_packs: dict[str, Any]) -> None:
    bare = {
        **all_packs,
        "documentation": {},
        "details": {**all_packs["details"], "description": None},
        "evidence": [],
        "lineage": {"datasets": [], "code": None},
        "audit_trail": [],
        "outcomes": [],
        "fairness": [],
        "explainability": [],
        "approvals": [],
    }
    for name in FRAMEWORKS:
        cov = coverage(bare, name)
        assert cov["counts"] == {"covered": 0, "partial": 0, "gap": len(cov["items"])}, name


def test_a_mapping_with_an_unknown_check_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    from ordinance.errors import InfrastructureError
    from ordinance.report import coverage as cov_mod

    (tmp_path / "annex-iv.yaml").write_text(
        "framework: x\ntitle: x\ncitation: x\nitems:\n"
        "  - {id: '1', title: t, citation: c, requires: [[policy:evaluations_count]]}\n"
    )
    monkeypatch.setattr(cov_mod, "_DIR", tmp_path)
    cov_mod.load_framework.cache_clear()
    try:
        with pytest.raises(InfrastructureError, match="unknown check"):
            cov_mod.load_framework("annex-iv")
    finally:
        cov_mod.load_framework.cache_clear()

"""PDFs: the text a reader (or an auditor's tooling) extracts holds the facts."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from ordinance.report import build_card_context, build_report_context, render_document
from ordinance.workspace import Workspace

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _outline_titles(outline: list[object]) -> list[str]:
    out: list[str] = []
    for item in outline:
        if isinstance(item, list):
            out += _outline_titles(item)
        else:
            out.append(str(item.title))  # type: ignore[attr-defined]
    return out


def _squash(text: str) -> str:
    """Extracted text without whitespace: line wrapping must not hide a value."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def report_pdf(demo_home: Path) -> tuple[dict[str, object], bytes]:
    with Workspace.open(demo_home) as ws:
        ctx = build_report_context(ws, "credit-risk", "1.0.0")
    return ctx, render_document("report", ctx, "pdf")


def test_report_pdf_text_holds_model_verdict_rules_and_fairness_values(
    report_pdf: tuple[dict[str, object], bytes],
) -> None:
    ctx, pdf = report_pdf
    text = _squash(_text(pdf))
    assert "credit-risk@1.0.0" in text
    verdict = ctx["verdict"]
    assert verdict in ("pass", "warn", "fail")
    stage = ctx["scope"]["stage"]  # type: ignore[index]
    assert _squash(f"Verdict for stage {stage}: {verdict}") in text
    rules = ctx["rules"]
    assert isinstance(rules, list) and len(rules) >= 5
    for rule in rules:
        assert rule["rule"] in text, rule["rule"]
        assert _squash(rule["measured_text"])[:60] in text
    # the measured fairness values: each fairness rule's worst disparity, and per-group rates
    fairness_rules = [r for r in rules if r["type"] == "fairness.threshold"]
    assert fairness_rules
    for rule in fairness_rules:
        assert f"{rule['measured']['value']:.4f}" in text
    analysis = ctx["fairness"][0]  # type: ignore[index]
    by_sex = analysis["groupings"][0]
    for group in by_sex["groups"]:
        for value in group["metrics"].values():
            if value is not None:
                assert f"{value:.4f}" in text


def test_report_pdf_has_title_page_contents_and_page_numbers(
    report_pdf: tuple[dict[str, object], bytes],
) -> None:
    _ctx, pdf = report_pdf
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 4
    first = reader.pages[0].extract_text()
    assert "Compliance and validation report: credit-risk@1.0.0" in first
    assert "Scope and verdict" in first
    for p in _ctx["scope"]["packs"]:  # type: ignore[index]
        assert p["name"] in first
    assert "Page" not in first  # the first page carries no running header or number
    contents = reader.pages[1].extract_text()
    assert "Contents" in contents and "Audit trail" in contents
    assert re.search(r"Page 3 of \d+", reader.pages[2].extract_text())
    assert "Compliance and validation report: credit-risk@1.0.0" in reader.pages[2].extract_text()
    titles = _outline_titles(reader.outline)
    assert titles[:2] == [
        "Compliance and validation report: credit-risk@1.0.0",
        "Scope and verdict",
    ]
    assert "Contents" in titles and "Rules by pack" in titles and "Audit trail" in titles


def test_pdf_metadata_dates_come_from_the_log_and_bytes_are_reproducible(
    report_pdf: tuple[dict[str, object], bytes], demo_home: Path
) -> None:
    ctx, pdf = report_pdf
    meta = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert meta is not None
    date = str(ctx["date"])  # the newest signed statement time, e.g. 2026-11-22T08:52:43Z
    stamp = "D:" + re.sub(r"[-:T]", "", date)
    assert meta["/CreationDate"] == stamp and meta["/ModDate"] == stamp
    assert meta["/Title"] == "Compliance and validation report: credit-risk@1.0.0"
    with Workspace.open(demo_home) as ws:
        again = render_document("report", build_report_context(ws, "credit-risk", "1.0.0"), "pdf")
    assert again == pdf


def test_card_pdf_holds_the_card_sections_and_group_metrics(demo_ws: Workspace) -> None:
    ctx = build_card_context(demo_ws, "credit-risk", "1.1.0")
    text = _text(render_document("card", ctx, "pdf"))
    for heading in (
        "Model details",
        "Intended use",
        "Factors",
        "Metrics",
        "Evaluation data",
        "Training data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
        "Lineage",
        "Governance status",
    ):
        assert heading in text
    squashed = _squash(text)
    intersectional = ctx["fairness"][0]["groupings"][-1]
    assert intersectional["intersectional"]
    for group in intersectional["groups"][:5]:
        rate = group["metrics"]["false_positive_rate"]
        assert (f"{rate:.4f}" if rate is not None else "undefined") in squashed


def test_pdf_renderer_refuses_remote_urls(demo_ws: Workspace, tmp_path: Path) -> None:
    from ordinance.report.pdf import PdfRenderer

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "catalog.html.j2").write_text(
        '<html lang="en"><head><title>t</title>'
        '<link rel="stylesheet" href="https://example.invalid/x.css"></head>'
        '<body><p>offline</p><img alt="x" src="http://example.invalid/x.png">'
        '<img alt="y" src="file:///etc/passwd"></body></html>'
    )
    from ordinance.report import build_catalog_context

    renderer = PdfRenderer(templates)
    pdf = renderer.render("catalog", build_catalog_context(demo_ws))
    assert "offline" in _text(pdf)
    assert sorted(renderer.refused_urls) == [
        "file:///etc/passwd",
        "http://example.invalid/x.png",
        "https://example.invalid/x.css",
    ]

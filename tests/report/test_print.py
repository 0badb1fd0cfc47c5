"""Print quality: Noto fonts with a warning naming uncovered characters, monospace digests,
long tokens that wrap instead of running off the page."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from ordinance.report import build_card_context
from ordinance.workspace import Workspace

pikepdf = pytest.importorskip("pikepdf")
pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

KHITAN = "\U00018b00"  # no font in fonts-noto-* covers Khitan Small Script
TOKEN = "sha256-" + "0123456789abcdef" * 12


def _fonts(pdf: bytes) -> set[str]:
    doc = pikepdf.open(io.BytesIO(pdf))
    names = set()
    for page in doc.pages:
        for font in (page.Resources.get("/Font") or {}).values():
            names.add(str(font.BaseFont).split("+", 1)[-1])
    return names


def test_fonts_glyph_warning_mono_digests_and_wrapping(demo_home: Path) -> None:
    from ordinance.report.pdf import PdfRenderer, missing_glyphs

    with Workspace.open(demo_home) as ws:
        ctx = build_card_context(ws, "credit-risk", "1.1.0")
    doc = {
        **ctx["documentation"],
        "limitations": f"信用评分 (CJK), 😀 (emoji), {KHITAN} (Khitan). Token: {TOKEN}",
    }
    ctx = {**ctx, "documentation": doc, "sections": {**ctx["sections"]}}
    ctx["sections"]["caveats"] = {
        **ctx["sections"]["caveats"],
        "fields": [
            {"key": "limitations", "label": "Known limitations", "text": doc["limitations"]}
        ],
    }
    renderer = PdfRenderer()
    pdf = renderer.render("card", ctx)
    assert missing_glyphs(doc["limitations"]) == ["U+18B00 KHITAN SMALL SCRIPT CHARACTER-18B00"]
    (warning,) = [w for w in renderer.layout_warnings if "no installed font" in w]
    assert "U+18B00" in warning and "fonts-noto" in warning
    fonts = _fonts(pdf)
    assert "Noto-Sans" in fonts and "Noto-Sans-Mono" in fonts, fonts  # mono for digests
    assert any("CJK" in f for f in fonts) and any("Emoji" in f for f in fonts), fonts
    text = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    text = text.replace("\x00", "")  # pypdf reads some tagged runs as UTF-16
    squashed = re.sub(r"\s+", "", text)
    assert TOKEN in squashed  # all of it is printed ...
    assert TOKEN not in text  # ... over several lines, not running off the page


# --------------------------------------------------------------------------- orphaned headings

HEADINGS = frozenset({"/H", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6"})
ALL_PACKS = [
    "ordinance:baseline",
    "ordinance:eu-ai-act-high-risk",
    "ordinance:bank-model-risk",
    "ordinance:nist-ai-rmf",
]


def _heading(element: object) -> object | None:
    """The heading (H, H1…H6) structure element ``element`` belongs to, if any."""
    for _ in range(64):
        if not isinstance(element, pikepdf.Dictionary):
            return None
        if str(element.get("/S")) in HEADINGS:
            return element
        element = element.get("/P")
    return None


def _page_endings(pdf: bytes) -> list[bool | None]:
    """Per page: whether the last text drawn on it (in content order, artifacts such as the
    running header and footer left out) belongs to a heading of the structure tree; ``None``
    for a page without tagged text."""
    doc = pikepdf.open(io.BytesIO(pdf))
    nums = doc.Root.StructTreeRoot.ParentTree.Nums
    parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
    endings: list[bool | None] = []
    for page in doc.pages:
        elements = parents[int(page.obj.StructParents)]
        stack: list[int | None] = []
        last: int | None = None
        for operands, op in pikepdf.parse_content_stream(page):
            name = str(op)
            if name in ("BDC", "BMC"):
                props = operands[1] if name == "BDC" else None
                tagged = isinstance(props, pikepdf.Dictionary) and "/MCID" in props
                stack.append(int(props.MCID) if tagged else None)
            elif name == "EMC":
                stack.pop()
            elif name in ("Tj", "TJ", "'", '"'):
                marked = [m for m in stack if m is not None]
                if marked:
                    last = marked[-1]
        endings.append(None if last is None else _heading(elements[last]) is not None)
    return endings


def _heading_then_block(css: str) -> str:
    """A page whose h3 fits at the bottom of page 1 while the figure after it (an SVG, which
    cannot be split) does not: 215 mm is mid-way in the window where that holds."""
    box = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" role="img">'
        '<title>box</title><rect width="200" height="200" fill="#ddd"/></svg>'
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        f"<style>{css}</style></head><body><main><h2>Start</h2><p>Introduction.</p>"
        '<div style="height: 215mm"></div><h3>A heading</h3>'
        f"<figure>{box}<figcaption>A figure.</figcaption></figure>"
        "<p>End.</p></main></body></html>"
    )


def test_the_page_ending_check_sees_an_orphaned_heading() -> None:
    """The control: with breaks after headings allowed, the h3 is left at the bottom of page 1
    and the check says so; with the shipped stylesheet it moves on with its figure."""
    from ordinance.report._templates import template_dirs
    from ordinance.report.pdf import PdfRenderer

    css = next(d / "report.css" for d in template_dirs() if (d / "report.css").is_file())
    shipped = css.read_text(encoding="utf-8")
    allowed = shipped + "\n@media print { h1, h2, h3, h4, caption { break-after: auto; } }\n"
    renderer = PdfRenderer()
    orphaned = _page_endings(renderer.from_html(_heading_then_block(allowed)))
    kept = _page_endings(renderer.from_html(_heading_then_block(shipped)))
    assert orphaned == [True, False]
    assert kept == [False, False]


@pytest.mark.parametrize("packs", [None, ALL_PACKS], ids=["configured", "every-pack"])
def test_no_page_of_the_compliance_report_ends_with_a_heading(
    demo_home: Path, packs: list[str] | None
) -> None:
    from ordinance.report import build_report_context, render_document

    with Workspace.open(demo_home) as ws:
        ctx = build_report_context(ws, "credit-risk", "1.0.0", stage="production", packs=packs)
    pdf = render_document("report", ctx, "pdf")
    endings = _page_endings(pdf)
    assert len(endings) >= 12
    assert None not in endings  # every page has tagged text, so every page was checked
    orphans = [n for n, ends_with_heading in enumerate(endings, 1) if ends_with_heading]
    assert orphans == [], f"pages ending with a heading: {orphans}"


def test_no_table_runs_off_the_page(demo_home: Path) -> None:
    """Fixed table layout: the header's width classes include the cells' padding, so every
    table and cell ends inside the page's content box (read from WeasyPrint's layout)."""
    from weasyprint.formatting_structure import boxes

    from ordinance.report import build_report_context
    from ordinance.report.html import HtmlRenderer
    from ordinance.report.pdf import load_weasyprint

    with Workspace.open(demo_home) as ws:
        report = build_report_context(ws, "credit-risk", "1.0.0", packs=ALL_PACKS)
        card = build_card_context(ws, "credit-risk", "1.1.0")
    wp = load_weasyprint()
    tables = 0
    for document, ctx in (("report", report), ("card", card)):
        html = HtmlRenderer().render_text(document, ctx)
        for page in wp.HTML(string=html, media_type="print").render().pages:
            page_box = page._page_box  # the layout itself is what is checked
            right = page_box.content_box_x() + page_box.width
            for box in page_box.descendants():
                if isinstance(box, boxes.TableBox | boxes.TableCellBox):
                    tables += isinstance(box, boxes.TableBox)
                    assert box.position_x + box.margin_width() <= right + 0.01, (document, box)
    assert tables >= 20

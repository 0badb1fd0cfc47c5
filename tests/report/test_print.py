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

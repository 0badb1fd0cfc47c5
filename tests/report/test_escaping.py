"""Model data is data: HTML and Jinja syntax in it render as text, in every format."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_support import EVIL, EVIL_METRIC

from ordinance.errors import InputError
from ordinance.report import build_card_context, build_report_context, render_document
from ordinance.workspace import Workspace


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _no_49(text: str) -> bool:
    """No stand-alone 49 (what ``{{ 7*7 }}`` evaluates to) outside hex digests."""
    return re.search(r"\b49\b", re.sub(r"[0-9a-f]{12,}", "", text)) is None


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


@pytest.mark.parametrize("document", ["card", "report"])
def test_html_escapes_script_and_never_evaluates_jinja(evil_ws: Workspace, document: str) -> None:
    build = build_card_context if document == "card" else build_report_context
    html = render_document(document, build(evil_ws, "evil-model", "1.0.0"), "html").decode()
    parsed = _parse(html)
    assert "script" not in parsed.tags
    assert "i" not in parsed.tags  # the owner's <i> is text too
    text = "".join(parsed.text)
    # the description arrives verbatim as text: tags and template syntax unevaluated
    assert EVIL in text
    assert "{{ 7*7 }}" in text and "jinja{% endif %}" in text
    assert _no_49(text)


def test_card_html_shows_a_hostile_metric_name_as_text(evil_ws: Workspace) -> None:
    html = render_document("card", build_card_context(evil_ws, "evil-model"), "html").decode()
    parsed = _parse(html)
    assert "b" not in parsed.tags
    assert EVIL_METRIC in "".join(parsed.text)
    assert "&lt;b&gt;{{ 7*7 }}&lt;/b&gt;" in html


def test_pdf_shows_hostile_text_verbatim(evil_ws: Workspace) -> None:
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("weasyprint")
    pdf = render_document("card", build_card_context(evil_ws, "evil-model"), "pdf")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    flat = " ".join(text.split())
    assert "<script>alert('x')</script> {{ 7*7 }}" in flat
    assert "<b>{{ 7*7 }}</b>" in flat
    assert _no_49(flat)


def test_markdown_card_escapes_html_in_model_text(evil_ws: Workspace) -> None:
    md = render_document("card", build_card_context(evil_ws, "evil-model"), "md").decode()
    body = md.split("\n---\n", 1)[1]
    assert "<script" not in body and "<b>" not in body
    assert "&lt;script&gt;" in body
    assert "{{ 7\\*7 }}" in body  # Markdown-escaped, never evaluated
    assert _no_49(body)


def test_a_template_cannot_escape_the_sandbox(evil_ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "card.html.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(InputError, match="sandbox"):
        render_document(
            "card", build_card_context(evil_ws, "evil-model"), "html", templates=tmp_path
        )


def test_a_template_typo_is_an_error_not_an_empty_string(
    evil_ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "card.html.j2").write_text("<p>{{ detials.name }}</p>")
    with pytest.raises(InputError, match="detials"):
        render_document(
            "card", build_card_context(evil_ws, "evil-model"), "html", templates=tmp_path
        )

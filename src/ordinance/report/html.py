"""HTML rendering: self-contained pages (inline CSS and SVG, no external requests)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ordinance.errors import InputError
from ordinance.report._base import DOCUMENTS
from ordinance.report._templates import render_template

__all__ = ["HtmlRenderer"]


class HtmlRenderer:
    """Renders ``DOCUMENT.html.j2`` from the template search path."""

    format = "html"
    suffix = ".html"
    media_type = "text/html"
    documents: tuple[str, ...] = DOCUMENTS

    def __init__(self, templates: Path | None = None) -> None:
        self.templates = templates

    def render_text(self, document: str, context: Mapping[str, Any]) -> str:
        if document not in self.documents:
            raise InputError(f"the html renderer cannot render a {document!r}")
        return render_template(f"{document}.html.j2", context, self.templates)

    def render(self, document: str, context: Mapping[str, Any]) -> bytes:
        return self.render_text(document, context).encode("utf-8")

"""Model cards as Markdown (Hugging Face–compatible front matter) and as JSON.

The Markdown card starts with YAML front matter that ``huggingface_hub.ModelCard`` parses
offline, with Hub-valid fields only (see :mod:`ordinance.report.hub`). The front matter is
written with ``yaml.safe_dump`` (YAML's own quoting protects it); the body goes through the
autoescaping template environment like every other document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from ordinance.errors import InputError
from ordinance.report._templates import render_template
from ordinance.report.hub import hf_metadata

__all__ = ["JsonRenderer", "MarkdownRenderer", "hf_metadata"]


class MarkdownRenderer:
    """The model card as Markdown with YAML front matter (``card.md.j2``)."""

    format = "md"
    suffix = ".md"
    media_type = "text/markdown"
    documents: tuple[str, ...] = ("card",)

    def __init__(self, templates: Path | None = None) -> None:
        self.templates = templates

    def render(self, document: str, context: Mapping[str, Any]) -> bytes:
        if document not in self.documents:
            raise InputError(f"the md renderer cannot render a {document!r}")
        front = yaml.safe_dump(
            hf_metadata(context), sort_keys=True, allow_unicode=True, default_flow_style=False
        )
        # YAML-quoted by safe_dump; HTML-escaping it would corrupt the YAML.
        text = render_template(
            "card.md.j2",
            context,
            self.templates,
            front_matter=Markup(front),  # noqa: S704
        )
        return text.encode("utf-8")


class JsonRenderer:
    """The context itself, as stable, sorted JSON (charts as data, not SVG)."""

    format = "json"
    suffix = ".json"
    media_type = "application/json"
    documents: tuple[str, ...] = ("card", "report", "portfolio", "catalog")

    def render(self, document: str, context: Mapping[str, Any]) -> bytes:
        if document not in self.documents:
            raise InputError(f"the json renderer cannot render a {document!r}")
        return (json.dumps(context, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

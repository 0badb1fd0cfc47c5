"""Model cards as Markdown (Hugging Face–compatible front matter) and as JSON.

The Markdown card starts with YAML front matter that ``huggingface_hub.ModelCard`` parses
offline: ``license``, ``datasets``, ``base_model``, ``tags``, ``metrics`` and a
``model-index`` holding the version's reported metrics as evaluation results. The front
matter is written with ``yaml.safe_dump`` (YAML's own quoting protects it); the body goes
through the autoescaping template environment like every other document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from ordinance.errors import InputError
from ordinance.report._templates import render_template

__all__ = ["JsonRenderer", "MarkdownRenderer", "hf_metadata"]

_HF_LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def hf_metadata(context: Mapping[str, Any]) -> dict[str, Any]:
    """The Hugging Face model-card metadata for a card context (only what is recorded)."""
    d = context["details"]
    meta: dict[str, Any] = {}
    license_ = d.get("license")
    if license_:
        meta["license"] = license_ if _HF_LICENSE.match(license_) else "other"
        if meta["license"] == "other":
            meta["license_name"] = license_
    if d.get("base_model"):
        meta["base_model"] = d["base_model"]
    datasets = sorted({ds["name"] for ds in context["lineage"]["datasets"]})
    if datasets:
        meta["datasets"] = datasets
    meta["tags"] = sorted({"ordinance", f"risk-tier-{d['risk_tier']}", *d["tags"]})
    metrics = context["metrics"]
    if metrics:
        meta["metrics"] = [m["name"] for m in metrics]
        evaluation_sets = context["datasets"]["evaluation"]
        ds_name = evaluation_sets[0]["name"] if evaluation_sets else "unspecified"
        meta["model-index"] = [
            {
                "name": d["name"],
                "results": [
                    {
                        "task": {"type": "tabular-classification", "name": "Classification"},
                        "dataset": {"name": ds_name, "type": ds_name},
                        "metrics": [
                            {
                                "type": m["name"],
                                "value": m["value"],
                                "name": m["name"],
                                "verified": False,
                            }
                            for m in metrics
                        ],
                    }
                ],
            }
        ]
    meta["ordinance"] = {
        "model": d["name"],
        "version": d["version"],
        "stage": d["stage"],
        "identity_sha256": d["identity"]["sha256"],
    }
    return meta


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

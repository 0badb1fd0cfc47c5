"""Hugging Face Hub model-card metadata, and the public view of a card.

:func:`hf_metadata` writes only what the Hub understands and Ordinance can stand behind:

* ``library_name`` and ``pipeline_tag`` from the documentation when given, else derived from
  the model artifact's format (skops → ``sklearn``) and the predictions evidence (a
  tabular classifier → ``tabular-classification``);
* ``metrics`` and ``model-index`` results with Hub metric ids (``auc`` → ``roc_auc``); a
  metric without a Hub id stays in the card's body, never under a made-up id;
* ``datasets`` only with Hub dataset ids (``hf://datasets/org/name`` or
  ``https://huggingface.co/datasets/org/name`` URIs, or a documented ``hf_dataset_id``); a
  ``model-index`` only when the evaluation data set has one;
* never ``verified``: only the Hub sets that, for evaluations it ran itself;
* ``co2_eq_emissions`` when the documentation records emissions.

:func:`public_context` removes what must not leave the organisation: e-mail addresses,
internal URLs (code repositories, data-set locations), training-run ids and signer
identities, in every field including free text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ordinance import uris

__all__ = ["HUB_METRICS", "hf_metadata", "hub_dataset_id", "public_context"]

#: Ordinance / scikit-learn metric names → Hugging Face Hub (``evaluate``) metric ids.
HUB_METRICS: dict[str, str] = {
    "accuracy": "accuracy",
    "accuracy_score": "accuracy",
    "auc": "roc_auc",
    "roc_auc": "roc_auc",
    "roc_auc_score": "roc_auc",
    "f1": "f1",
    "f1_score": "f1",
    "precision": "precision",
    "precision_score": "precision",
    "recall": "recall",
    "recall_score": "recall",
    "brier": "brier_score",
    "brier_score": "brier_score",
    "mse": "mse",
    "mae": "mae",
    "r2": "r_squared",
    "matthews_corrcoef": "matthews_correlation",
}
_LIBRARIES = {
    "skops": "sklearn",
    "sklearn": "sklearn",
    "onnx": "onnx",
    "safetensors": "transformers",
}
_HF_LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_HUB_DATASET = re.compile(
    r"^(?:hf://datasets/|https://huggingface\.co/datasets/)([\w.-]+/[\w.-]+|[\w.-]+)/?$"
)
_EMAIL = re.compile(r"[\w.+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
_URL = re.compile(
    r"\b(?:https?|s3|gs|file|git|ssh|mlflow-runs|runs|models|dbfs):(?://?)?[^\s<>\"')]+"
)


def hub_dataset_id(uri: str | None) -> str | None:
    """The Hub dataset id a URI names (``None`` if it is not a Hub dataset)."""
    if not uri:
        return None
    m = _HUB_DATASET.match(uri)
    return m.group(1) if m else None


def _library(context: Mapping[str, Any]) -> str | None:
    doc = context.get("documentation") or {}
    if doc.get("library_name"):
        return str(doc["library_name"])
    model = context.get("model_artifact") or {}
    fmt = str(model.get("format") or "").lower()
    return _LIBRARIES.get(fmt)


def _pipeline_tag(context: Mapping[str, Any]) -> str | None:
    doc = context.get("documentation") or {}
    if doc.get("pipeline_tag"):
        return str(doc["pipeline_tag"])
    tags = set(context["details"].get("tags") or ())
    classifier = any(not o.get("error") for o in context.get("outcomes") or ()) or any(
        a.get("groupings") for a in context.get("fairness") or ()
    )
    if classifier and "tabular" in tags:
        return "tabular-classification"
    return None


def _datasets(context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(role, Hub id) of every data set with a Hub id."""
    doc = context.get("documentation") or {}
    out = []
    for ds in context["lineage"]["datasets"]:
        hub = hub_dataset_id(ds.get("uri"))
        if hub:
            out.append((str(ds.get("role")), hub))
    if doc.get("hf_dataset_id"):
        out.append(("evaluation", str(doc["hf_dataset_id"])))
    return out


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def hf_metadata(context: Mapping[str, Any]) -> dict[str, Any]:
    """The Hugging Face model-card metadata for a card context (only what is recorded)."""
    d = context["details"]
    doc = context.get("documentation") or {}
    meta: dict[str, Any] = {}
    license_ = d.get("license")
    if license_:
        meta["license"] = license_ if _HF_LICENSE.match(license_) else "other"
        if meta["license"] == "other":
            meta["license_name"] = license_
    library = _library(context)
    if library:
        meta["library_name"] = library
    tag = _pipeline_tag(context)
    if tag:
        meta["pipeline_tag"] = tag
    if d.get("base_model"):
        meta["base_model"] = d["base_model"]
    datasets = _datasets(context)
    if datasets:
        meta["datasets"] = sorted({hub for _, hub in datasets})
    meta["tags"] = sorted({"ordinance", f"risk-tier-{d['risk_tier']}", *d["tags"]})
    hub_metrics = [
        (HUB_METRICS[m["name"]], m) for m in context["metrics"] if m["name"] in HUB_METRICS
    ]
    if hub_metrics:
        meta["metrics"] = sorted({hub for hub, _ in hub_metrics})
    evaluation = next((hub for role, hub in datasets if role in ("evaluation", "validation")), None)
    if hub_metrics and evaluation and tag:
        meta["model-index"] = [
            {
                "name": d["name"],
                "results": [
                    {
                        "task": {"type": tag},
                        "dataset": {"name": evaluation, "type": evaluation},
                        "metrics": [
                            {"type": hub, "value": m["value"], "name": m["name"]}
                            for hub, m in hub_metrics
                        ],
                    }
                ],
            }
        ]
    emissions = _number(doc.get("co2_eq_emissions"))
    if emissions is not None:
        meta["co2_eq_emissions"] = {"emissions": emissions}
    meta["ordinance"] = {
        "model": d["name"],
        "version": d["version"],
        "stage": d["stage"],
        "identity_sha256": d["identity"]["sha256"],
    }
    return meta


def _public_url(m: re.Match[str]) -> str:
    """Ordinance's own identifiers and Hub datasets stay; every other URL is internal."""
    url = m.group(0)
    if url.startswith(uris.BASE + "/") or hub_dataset_id(url):
        return url
    return "[internal link]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        text = _EMAIL.sub("[internal contact]", value)
        return _URL.sub(_public_url, text)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def public_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The card for people outside the organisation: no e-mails, internal URLs, run ids or
    signer identities (approvals are counted by role, not named)."""
    ctx: dict[str, Any] = {**context}
    details = {**ctx["details"], "author": None}
    if "@" in str(details.get("owner") or ""):
        details["owner"] = "[internal contact]"
    ctx["details"] = details
    lin = {**ctx["lineage"]}
    lin["code"] = None
    lin["training_run"] = None
    lin["datasets"] = [
        {**ds, "uri": ds["uri"] if hub_dataset_id(ds.get("uri")) else None}
        for ds in lin["datasets"]
    ]
    ctx["lineage"] = lin
    ctx["datasets"] = {
        role: [{**ds, "uri": ds["uri"] if hub_dataset_id(ds.get("uri")) else None} for ds in sets]
        for role, sets in ctx["datasets"].items()
    }
    gov = {**ctx["governance"]}
    gov["approvals"] = [
        {**a, "approver": "[signed approver]", "digest": None, "log_index": None}
        for a in gov.get("approvals") or []
    ]
    gov["waivers"] = [
        {**w, "approver": "[signed approver]", "digest": None, "log_index": None}
        for w in gov.get("waivers") or []
    ]
    gov["transitions"] = [{**t, "actor": None, "reason": ""} for t in gov.get("transitions") or []]
    ctx["governance"] = gov
    ctx["public"] = True
    return dict(_scrub(ctx))

"""Version facts: what the registration says about a version (details, documentation by
Model Card section, metrics, data sets, lineage, the model file, the evidence list).

Pure functions of a :class:`~ordinance.model.ModelVersion`: nothing here reads the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ordinance.model import DOCUMENTATION_FIELDS, ModelVersion
from ordinance.report._format import ts

__all__ = [
    "CARD_SECTIONS",
    "datasets_of",
    "details_of",
    "documentation_of",
    "evidence_list",
    "lineage_of",
    "metrics_of",
    "model_artifact",
    "sections_of",
]

#: Documentation fields by Model Card section (Mitchell et al. 2019), with display labels.
CARD_SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "intended-use",
        "Intended use",
        (
            ("intended_use", "Primary intended uses"),
            ("intended_users", "Primary intended users"),
            ("out_of_scope_uses", "Out-of-scope uses"),
        ),
    ),
    ("factors", "Factors", (("factors", "Relevant factors"),)),
    ("evaluation-data", "Evaluation data", (("evaluation_data", "Evaluation data"),)),
    ("training-data", "Training data", (("training_data", "Training data"),)),
    (
        "ethical-considerations",
        "Ethical considerations",
        (("ethical_considerations", "Ethical considerations"),),
    ),
    (
        "caveats",
        "Caveats and recommendations",
        (
            ("limitations", "Known limitations"),
            ("caveats_and_recommendations", "Caveats and recommendations"),
        ),
    ),
)


def details_of(v: ModelVersion) -> dict[str, Any]:
    doc = v.documentation
    return {
        "name": v.model.name,
        "version": v.version,
        "ref": v.ref,
        "owner": v.model.owner,
        "risk_tier": v.model.risk_tier,
        "description": v.model.description or None,
        "summary": doc.get("summary") or None,
        "tags": sorted(v.model.tags),
        "author": v.author,
        "stage": v.stage,
        "created_at": ts(v.created_at),
        "registered_at": ts(v.registered_at),
        "identity": {
            "sha256": v.identity.sha256,
            "method": v.identity.method,
            "resources": v.identity.resources,
        },
        "manifest_sha256": v.manifest_sha256 or None,
        "license": doc.get("license") or None,
        "base_model": doc.get("base_model") or None,
    }


def documentation_of(v: ModelVersion) -> dict[str, str | None]:
    out: dict[str, str | None] = {
        k: (v.documentation.get(k) or "").strip() or None for k in DOCUMENTATION_FIELDS
    }
    # Extra documentation fields a manifest may carry are kept, sorted, never dropped.
    for k in sorted(v.documentation):
        if k not in out:
            out[k] = v.documentation[k].strip() or None
    return out


def sections_of(documentation: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
    return {
        sid: {
            "id": sid,
            "title": title,
            "fields": [
                {"key": key, "label": label, "text": documentation.get(key)}
                for key, label in fields
            ],
        }
        for sid, title, fields in CARD_SECTIONS
    }


def metrics_of(v: ModelVersion) -> list[dict[str, Any]]:
    return [{"name": k, "value": v.metrics[k]} for k in sorted(v.metrics)]


def datasets_of(v: ModelVersion, role: str) -> list[dict[str, Any]]:
    return [
        {"name": d.name, "uri": d.uri, "sha256": d.sha256, "role": d.role}
        for d in v.lineage.datasets
        if d.role == role
    ]


def lineage_of(v: ModelVersion) -> dict[str, Any]:
    """Where the version came from: data sets, code, run, parent, environment."""
    lin = v.lineage
    return {
        "datasets": [
            {"name": d.name, "uri": d.uri, "sha256": d.sha256, "role": d.role} for d in lin.datasets
        ],
        "code": None
        if lin.code is None
        else {"repository": lin.code.repository, "commit": lin.code.commit},
        "training_run": lin.training_run,
        "parent": lin.parent,
        "environment": [{"name": k, "value": lin.environment[k]} for k in sorted(lin.environment)],
    }


def model_artifact(v: ModelVersion) -> dict[str, Any] | None:
    """The model file's name, format and loading facts (from its evidence attributes)."""
    items = sorted(v.evidence_of("model"), key=lambda e: (e.name, e.sha256))
    if not items:
        return None
    e = items[0]
    attrs = e.attributes
    trusted = attrs.get("trusted_types")
    features = attrs.get("features")
    return {
        "name": e.name,
        "sha256": e.sha256,
        "format": str(attrs.get("format") or "") or None,
        "trusted_types": sorted(str(t) for t in trusted) if isinstance(trusted, list) else [],
        "features": [str(f) for f in features] if isinstance(features, list) else [],
    }


def evidence_list(v: ModelVersion) -> list[dict[str, Any]]:
    items = sorted(v.evidence, key=lambda e: (e.kind, e.name, e.sha256))
    return [
        {
            "kind": e.kind,
            "name": e.name,
            "sha256": e.sha256,
            "size": e.size,
            "media_type": e.media_type,
            "created_at": ts(e.created_at),
            "description": e.description or None,
        }
        for e in items
    ]

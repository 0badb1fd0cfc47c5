"""Ordinance: ML model governance — YAML policies, a signed append-only audit log, model cards.

The public Python API. Everything else lives in modules whose names may change; the names
below are the supported surface (see ``docs/python-api.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ordinance.errors import (
    CheckFailed,
    ConflictError,
    InfrastructureError,
    InputError,
    ManifestError,
    NotFoundError,
    OrdinanceError,
    PolicyLoadError,
    VerificationError,
)

# Everything but the errors loads on first use, so `import ordinance` (and `ordinance
# --version`) stays cheap: the registry pulls in SQLAlchemy, the policy engine pandas.
_LAZY = {
    "ModelIdentity": "ordinance.identity",
    "compute_identity": "ordinance.identity",
    "load_manifest": "ordinance.manifest",
    "Dataset": "ordinance.model",
    "Evidence": "ordinance.model",
    "Lineage": "ordinance.model",
    "Model": "ordinance.model",
    "ModelVersion": "ordinance.model",
    "RegisterResult": "ordinance.registration",
    "Workspace": "ordinance.workspace",
    "init_workspace": "ordinance.workspace",
    "EvaluationContext": "ordinance.policy",
    "evaluate": "ordinance.policy",
    "load_pack": "ordinance.policy",
    "load_packs": "ordinance.policy",
    "compute_fairness": "ordinance.metrics",
    "compute_drift": "ordinance.metrics",
    "TransparencyLog": "ordinance.log",
    "verify_bundle": "ordinance.log",
    "approve": "ordinance.approvals",
    "history": "ordinance.stage_history",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ordinance' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if _TYPE_CHECKING:
    from datetime import datetime

    from ordinance.identity import ModelIdentity, compute_identity
    from ordinance.manifest import load_manifest
    from ordinance.model import Dataset, Evidence, Lineage, Model, ModelVersion
    from ordinance.promotion import PromotionDecision
    from ordinance.registration import RegisterResult
    from ordinance.workspace import Workspace, init_workspace


def promote(
    ws: Workspace,
    model: str,
    version: str,
    to_stage: str,
    actor: str,
    now: datetime | None = None,
    *,
    demote_to: str | None = None,
) -> PromotionDecision:
    """Promote ``model@version`` to ``to_stage`` if its policies and approvals allow; the
    decision is logged either way (``decision.raise_for_denial()`` turns a denial into exit 1).

    A convenience over :func:`ordinance.promotion.promote`, which takes the pipeline's built
    collaborators (``ws.promotion()``) instead of the workspace.
    """
    from ordinance.promotion import promote as run

    return run(ws.promotion(), model, version, to_stage, actor, now, demote_to=demote_to)


def rollback(
    ws: Workspace,
    model: str,
    to_version: str,
    actor: str,
    now: datetime | None = None,
    *,
    stage: str | None = None,
) -> PromotionDecision:
    """Return a version that was in production before back to production (policy checked).

    A convenience over :func:`ordinance.promotion.rollback` (see :func:`promote`).
    """
    from ordinance.promotion import rollback as run

    return run(ws.promotion(), model, to_version, actor, now, stage=stage)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ordinance")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


__version__ = _package_version()

__all__ = [
    "CheckFailed",
    "ConflictError",
    "Dataset",
    "EvaluationContext",
    "Evidence",
    "InfrastructureError",
    "InputError",
    "Lineage",
    "ManifestError",
    "Model",
    "ModelIdentity",
    "ModelVersion",
    "NotFoundError",
    "OrdinanceError",
    "PolicyLoadError",
    "RegisterResult",
    "TransparencyLog",
    "VerificationError",
    "Workspace",
    "__version__",
    "approve",
    "compute_drift",
    "compute_fairness",
    "compute_identity",
    "evaluate",
    "history",
    "init_workspace",
    "load_manifest",
    "load_pack",
    "load_packs",
    "promote",
    "rollback",
    "verify_bundle",
]

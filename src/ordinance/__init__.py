"""Ordinance: ML model governance — YAML policies, a signed append-only audit log, model cards.

The public Python API. Everything else lives in modules whose names may change; the names
below are the supported surface (see ``docs/python-api.md``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

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
from ordinance.identity import ModelIdentity, compute_identity
from ordinance.manifest import load_manifest
from ordinance.model import Dataset, Evidence, Lineage, Model, ModelVersion
from ordinance.workspace import RegisterResult, Workspace, init_workspace

# Heavier parts of the API load on first use, so `import ordinance` stays cheap for a pipeline
# that only registers versions.
_LAZY = {
    "EvaluationContext": "ordinance.policy",
    "evaluate": "ordinance.policy",
    "load_pack": "ordinance.policy",
    "load_packs": "ordinance.policy",
    "compute_fairness": "ordinance.metrics",
    "compute_drift": "ordinance.metrics",
    "TransparencyLog": "ordinance.log",
    "verify_bundle": "ordinance.log",
    "approve": "ordinance.approvals",
    "promote": "ordinance.promote",
    "rollback": "ordinance.promote",
    "history": "ordinance.promote",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ordinance' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


try:
    __version__ = _version("ordinance")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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

"""Docket: ML model governance — YAML policies, a signed append-only audit log, model cards.

The public Python API. Everything else lives in modules whose names may change; the names
below are the supported surface (see ``docs/python-api.md``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from docket.errors import (
    CheckFailed,
    ConflictError,
    DocketError,
    InfrastructureError,
    InputError,
    ManifestError,
    NotFoundError,
    PolicyLoadError,
    VerificationError,
)
from docket.identity import ModelIdentity, compute_identity
from docket.manifest import load_manifest
from docket.model import Dataset, Evidence, Lineage, Model, ModelVersion
from docket.workspace import RegisterResult, Workspace, init_workspace

# Heavier parts of the API load on first use, so `import docket` stays cheap for a pipeline
# that only registers versions.
_LAZY = {
    "EvaluationContext": "docket.policy",
    "evaluate": "docket.policy",
    "load_pack": "docket.policy",
    "load_packs": "docket.policy",
    "compute_fairness": "docket.metrics",
    "compute_drift": "docket.metrics",
    "TransparencyLog": "docket.log",
    "verify_bundle": "docket.log",
    "approve": "docket.approvals",
    "promote": "docket.promote",
    "rollback": "docket.promote",
    "history": "docket.promote",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'docket' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


try:
    __version__ = _version("docket")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "CheckFailed",
    "ConflictError",
    "Dataset",
    "DocketError",
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

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

try:
    __version__ = _version("docket")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "CheckFailed",
    "ConflictError",
    "Dataset",
    "DocketError",
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
    "VerificationError",
    "Workspace",
    "__version__",
    "compute_identity",
    "init_workspace",
    "load_manifest",
]

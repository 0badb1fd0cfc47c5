"""Ordinance's domain: models, versions, lineage, documentation and evidence.

These are frozen value objects. They are what the policy engine, the reports and
the audit log see; the storage layer maps them to tables and back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The default stage ladder; a workspace may configure its own.
DEFAULT_STAGES: tuple[str, ...] = ("development", "staging", "production", "archived")

RiskTier = str
#: The risk tiers a workspace accepts unless it configures its own (``risk_tiers:``), named
#: after the EU AI Act's categories.
DEFAULT_RISK_TIERS: tuple[str, ...] = ("minimal", "limited", "high", "unacceptable")
#: What a risk tier name looks like (a bank's ``low``/``medium``/``high`` fits).
RISK_TIER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

#: Evidence kinds Ordinance knows; others are accepted under ``other``-style names.
EVIDENCE_KINDS: tuple[str, ...] = (
    "model",
    "predictions",
    "explainability",
    "datasheet",
    "validation_report",
    "drift_report",
    "reference_data",
    "other",
)

#: Model-card documentation fields (Mitchell et al., "Model Cards for Model Reporting").
DOCUMENTATION_FIELDS: tuple[str, ...] = (
    "summary",
    "intended_use",
    "intended_users",
    "out_of_scope_uses",
    "factors",
    "training_data",
    "evaluation_data",
    "limitations",
    "ethical_considerations",
    "caveats_and_recommendations",
    "license",
    "base_model",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Model(_Frozen):
    """A governed model: the thing whose versions move up the stage ladder."""

    name: str
    owner: str
    #: ``None`` when the manifest does not declare one: a pack that scopes on the tier then
    #: errors (fail closed) instead of treating the version as out of scope.
    risk_tier: str | None = Field(default=None, pattern=RISK_TIER_PATTERN)
    description: str = ""
    tags: tuple[str, ...] = ()


class Dataset(_Frozen):
    """A data set a version was trained or evaluated on."""

    name: str
    uri: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    role: Literal["training", "validation", "evaluation", "reference", "other"] = "training"


class CodeRef(_Frozen):
    """A source repository and commit."""

    repository: str
    commit: str


class Lineage(_Frozen):
    """Where a version came from: data sets, code, training run, parent, environment."""

    datasets: tuple[Dataset, ...] = ()
    code: CodeRef | None = None
    training_run: str | None = None
    parent: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)

    def has(self, field: str) -> bool:
        """Whether a named lineage field is present (``datasets`` needs digests on all)."""
        if field == "datasets":
            return bool(self.datasets) and all(d.sha256 for d in self.datasets)
        if field in ("code", "code_commit"):
            return self.code is not None and bool(self.code.commit)
        if field == "training_run":
            return bool(self.training_run)
        if field == "parent":
            return bool(self.parent)
        if field == "environment":
            return bool(self.environment)
        raise KeyError(field)


LINEAGE_FIELDS: tuple[str, ...] = ("datasets", "code", "training_run", "parent", "environment")


class Evidence(_Frozen):
    """A file attached to a version, stored content-addressed by its SHA-256."""

    kind: str
    name: str
    sha256: str
    size: int
    media_type: str = "application/octet-stream"
    created_at: datetime
    attributes: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class Identity(_Frozen):
    """The model-signing root digest and how it was computed."""

    sha256: str
    method: Literal["files", "shards"] = "files"
    resources: int = 0
    name: str = ""


class ModelVersion(_Frozen):
    """One registered version of a model, with everything policies look at."""

    model: Model
    version: str
    stage: str
    author: str
    created_at: datetime
    registered_at: datetime
    identity: Identity
    lineage: Lineage = Lineage()
    metrics: dict[str, float] = Field(default_factory=dict)
    documentation: dict[str, str] = Field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()
    manifest_sha256: str = ""

    @property
    def ref(self) -> str:
        return f"{self.model.name}@{self.version}"

    def evidence_of(self, kind: str) -> tuple[Evidence, ...]:
        return tuple(e for e in self.evidence if e.kind == kind)


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split ``MODEL[@VERSION]``."""
    name, sep, version = ref.partition("@")
    return name, (version if sep else None)

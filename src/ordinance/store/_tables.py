"""SQLModel tables for the registry (models, versions, evidence, evaluations, transitions).

These tables are an index over the audit log, which is the source of truth: every row that
records a fact carries ``log_index`` and ``entry_sha256``, the log entry it indexes and the
SHA-256 of that entry's envelope bytes, and is checked against it on read
(:mod:`ordinance.ledger`).

The audit log keeps its own tables (``ordinance.log.schema``). Schema changes go through
Alembic migrations in ``ordinance/store/migrations``; nothing here creates tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable))


class ModelRow(SQLModel, table=True):
    __tablename__ = "ordinance_model"

    name: str = Field(primary_key=True, max_length=128)
    owner: str
    risk_tier: str
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()


class VersionRow(SQLModel, table=True):
    __tablename__ = "ordinance_version"
    __table_args__ = (UniqueConstraint("model_name", "version", name="uq_ordinance_version"),)

    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(foreign_key="ordinance_model.name", index=True, max_length=128)
    version: str = Field(max_length=64)
    stage: str = Field(max_length=64)
    author: str
    created_at: datetime = _ts()
    registered_at: datetime = _ts()
    identity_sha256: str = Field(max_length=64, index=True)
    identity: dict[str, Any] = _json()
    lineage: dict[str, Any] = _json()
    metrics: dict[str, Any] = _json()
    documentation: dict[str, Any] = _json()
    manifest_sha256: str = Field(max_length=64)
    log_index: int | None = None
    entry_sha256: str | None = Field(default=None, max_length=64)
    # the model's facts as this version's manifest declared them (never changed later)
    owner: str = ""
    risk_tier: str = ""
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class EvidenceRow(SQLModel, table=True):
    __tablename__ = "ordinance_evidence"
    __table_args__ = (Index("ix_ordinance_evidence_version", "version_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="ordinance_version.id")
    kind: str = Field(max_length=64)
    name: str
    sha256: str = Field(max_length=64, index=True)
    size: int
    media_type: str
    created_at: datetime = _ts()
    attributes: dict[str, Any] = _json()
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    log_index: int | None = None
    entry_sha256: str | None = Field(default=None, max_length=64)


class EvaluationRow(SQLModel, table=True):
    __tablename__ = "ordinance_evaluation"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="ordinance_version.id", index=True)
    stage: str = Field(max_length=64)
    verdict: str = Field(max_length=16)
    evaluated_at: datetime = _ts()
    policy_digests: dict[str, Any] = _json()
    result: dict[str, Any] = _json()
    log_index: int | None = None
    entry_sha256: str | None = Field(default=None, max_length=64)


class TransitionRow(SQLModel, table=True):
    __tablename__ = "ordinance_transition"
    __table_args__ = (Index("ix_ordinance_transition_model", "model_name", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(foreign_key="ordinance_model.name", max_length=128)
    version: str = Field(max_length=64)
    from_stage: str | None = Field(default=None, max_length=64)
    to_stage: str = Field(max_length=64)
    actor: str
    at: datetime = _ts()
    kind: str = Field(max_length=16)  # promote | demote | rollback | archive | register | denied
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    details: dict[str, Any] = _json()
    log_index: int | None = None
    entry_sha256: str | None = Field(default=None, max_length=64)

"""Registry tables: models, versions, evidence, evaluations, transitions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ordinance_model",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("risk_tier", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "ordinance_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "model_name", sa.String(128), sa.ForeignKey("ordinance_model.name"), nullable=False
        ),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("identity_sha256", sa.String(64), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("documentation", sa.JSON(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("model_name", "version", name="uq_ordinance_version"),
    )
    op.create_index("ix_ordinance_version_model_name", "ordinance_version", ["model_name"])
    op.create_index(
        "ix_ordinance_version_identity_sha256", "ordinance_version", ["identity_sha256"]
    )
    op.create_table(
        "ordinance_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "version_id", sa.Integer(), sa.ForeignKey("ordinance_version.id"), nullable=False
        ),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_index("ix_ordinance_evidence_version", "ordinance_evidence", ["version_id", "kind"])
    op.create_index("ix_ordinance_evidence_sha256", "ordinance_evidence", ["sha256"])
    op.create_table(
        "ordinance_evaluation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "version_id", sa.Integer(), sa.ForeignKey("ordinance_version.id"), nullable=False
        ),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("evaluated_at", TS, nullable=False),
        sa.Column("policy_digests", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_ordinance_evaluation_version_id", "ordinance_evaluation", ["version_id"])
    op.create_table(
        "ordinance_transition",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "model_name", sa.String(128), sa.ForeignKey("ordinance_model.name"), nullable=False
        ),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("from_stage", sa.String(64), nullable=True),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_ordinance_transition_model", "ordinance_transition", ["model_name", "at"])


def downgrade() -> None:
    for table in (
        "ordinance_transition",
        "ordinance_evaluation",
        "ordinance_evidence",
        "ordinance_version",
        "ordinance_model",
    ):
        op.drop_table(table)

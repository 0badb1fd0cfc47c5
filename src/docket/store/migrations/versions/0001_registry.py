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
        "docket_model",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("risk_tier", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "docket_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_name", sa.String(128), sa.ForeignKey("docket_model.name"), nullable=False),
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
        sa.UniqueConstraint("model_name", "version", name="uq_docket_version"),
    )
    op.create_index("ix_docket_version_model_name", "docket_version", ["model_name"])
    op.create_index("ix_docket_version_identity_sha256", "docket_version", ["identity_sha256"])
    op.create_table(
        "docket_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("docket_version.id"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_index("ix_docket_evidence_version", "docket_evidence", ["version_id", "kind"])
    op.create_index("ix_docket_evidence_sha256", "docket_evidence", ["sha256"])
    op.create_table(
        "docket_evaluation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("docket_version.id"), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("evaluated_at", TS, nullable=False),
        sa.Column("policy_digests", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_docket_evaluation_version_id", "docket_evaluation", ["version_id"])
    op.create_table(
        "docket_transition",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_name", sa.String(128), sa.ForeignKey("docket_model.name"), nullable=False),
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
    op.create_index("ix_docket_transition_model", "docket_transition", ["model_name", "at"])


def downgrade() -> None:
    for table in (
        "docket_transition",
        "docket_evaluation",
        "docket_evidence",
        "docket_version",
        "docket_model",
    ):
        op.drop_table(table)

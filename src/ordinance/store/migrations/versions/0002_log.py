"""Audit log tables and their append-only triggers.

Revision ID: 0002
Revises: 0001

The schema lives in ``ordinance.log.schema`` (one source of truth); this migration calls it.
"""

from __future__ import annotations

from alembic import op

from ordinance.log.schema import create_schema, drop_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_schema(op.get_bind())


def downgrade() -> None:
    drop_schema(op.get_bind())

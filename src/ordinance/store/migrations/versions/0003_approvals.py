"""Approval, waiver, revocation and roster-history tables.

Revision ID: 0003
Revises: 0002

The schema lives in ``ordinance.store._approval_tables`` (one source of truth); this migration
calls it.
"""

from __future__ import annotations

from alembic import op

from ordinance.store._approval_tables import create_schema, drop_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_schema(op.get_bind())


def downgrade() -> None:
    drop_schema(op.get_bind())

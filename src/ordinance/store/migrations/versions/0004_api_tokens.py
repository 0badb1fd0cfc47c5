"""API tokens for ``ordinance serve``.

Revision ID: 0004
Revises: 0003

The schema lives in ``ordinance.tokens`` (one source of truth); this migration calls it.
"""

from __future__ import annotations

from alembic import op

from ordinance.tokens import create_schema, drop_schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_schema(op.get_bind())


def downgrade() -> None:
    drop_schema(op.get_bind())

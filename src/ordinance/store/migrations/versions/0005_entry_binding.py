"""Bind every index row to its log entry: ``log_index`` and ``entry_sha256`` columns.

Revision ID: 0005
Revises: 0004

Rows written before this revision have NULL bindings; ``ordinance index rebuild`` recreates
them from the log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = {
    "ordinance_version": ("log_index", "entry_sha256"),
    "ordinance_evidence": ("log_index", "entry_sha256"),
    "ordinance_evaluation": ("entry_sha256",),
    "ordinance_transition": ("entry_sha256",),
    "ordinance_roster_version": ("entry_sha256",),
}


def _type(column: str) -> sa.types.TypeEngine[object]:
    return sa.BigInteger() if column == "log_index" else sa.String(64)  # type: ignore[return-value]


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in _COLUMNS.items():
        # 0003 builds the approval tables from the current metadata, so a fresh database
        # may already have the new roster column
        have = {c["name"] for c in sa.inspect(bind).get_columns(table)}
        for column in columns:
            if column not in have:
                op.add_column(table, sa.Column(column, _type(column), nullable=True))


def downgrade() -> None:
    for table, columns in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)

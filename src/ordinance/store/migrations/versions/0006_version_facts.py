"""Model facts per version: owner, risk tier, description and tags as registered.

Revision ID: 0006
Revises: 0005

Before this revision a new registration overwrote the model row, so registering v2 with
``risk_tier: minimal`` changed the tier every earlier version was judged by. Each version
now keeps the facts its own manifest declared; existing versions get their model's current
facts (the only record there is).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ordinance_version") as t:
        t.add_column(sa.Column("owner", sa.String(), nullable=False, server_default=""))
        t.add_column(sa.Column("risk_tier", sa.String(), nullable=False, server_default=""))
        t.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        t.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    op.execute(
        "UPDATE ordinance_version SET "
        "owner = (SELECT m.owner FROM ordinance_model m WHERE m.name = model_name), "
        "risk_tier = (SELECT m.risk_tier FROM ordinance_model m WHERE m.name = model_name), "
        "description = (SELECT m.description FROM ordinance_model m WHERE m.name = model_name), "
        "tags = (SELECT m.tags FROM ordinance_model m WHERE m.name = model_name)"
    )


def downgrade() -> None:
    with op.batch_alter_table("ordinance_version") as t:
        for name in ("tags", "description", "risk_tier", "owner"):
            t.drop_column(name)

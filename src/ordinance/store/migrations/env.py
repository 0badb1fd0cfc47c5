"""Alembic environment: runs against the connection handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=None, version_table="ordinance_alembic_version"
)
with context.begin_transaction():
    context.run_migrations()

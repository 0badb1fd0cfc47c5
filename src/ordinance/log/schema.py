"""The transparency log's tables (their own ``MetaData``), created by migration 0002 through
:func:`create_schema`:

* ``ordinance_log_entry``       one row per leaf: index, leaf hash, envelope bytes (the leaf
  input, verbatim), and unauthenticated index columns (predicate type, subject, time).
* ``ordinance_log_node``        every perfect-subtree root of level >= 1, keyed (level, index).
* ``ordinance_log_checkpoint``  every signed checkpoint, one per append batch.
* ``ordinance_log_cosignature`` witness cosignature lines, per checkpoint.

All four are append-only: triggers reject UPDATE and DELETE (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = [
    "APPEND_LOCK_KEY",
    "LOG_TABLES",
    "checkpoints_t",
    "cosignatures_t",
    "create_schema",
    "drop_schema",
    "entries_t",
    "metadata",
    "nodes_t",
]

metadata = MetaData()

_BigId = BigInteger().with_variant(Integer(), "sqlite")

entries_t = Table(
    "ordinance_log_entry",
    metadata,
    Column("idx", _BigId, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("envelope", LargeBinary(), nullable=False),
    Column("predicate_type", String(), nullable=False),
    Column("subject_name", String(), nullable=False),
    Column("subject_digest", String(), nullable=False),
    Column("logged_at", String(32), nullable=False),
)
Index("ix_ordinance_log_entry_subject", entries_t.c.subject_name, entries_t.c.logged_at)
Index("ix_ordinance_log_entry_ptype", entries_t.c.predicate_type, entries_t.c.idx)
Index("ix_ordinance_log_entry_logged_at", entries_t.c.logged_at)

nodes_t = Table(
    "ordinance_log_node",
    metadata,
    Column("level", SmallInteger(), primary_key=True, autoincrement=False),
    Column("idx", BigInteger(), primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

checkpoints_t = Table(
    "ordinance_log_checkpoint",
    metadata,
    Column("tree_size", _BigId, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text(), nullable=False),
    Column("created_at", String(32), nullable=False),
)

cosignatures_t = Table(
    "ordinance_log_cosignature",
    metadata,
    Column(
        "tree_size",
        BigInteger(),
        ForeignKey("ordinance_log_checkpoint.tree_size"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("key_name", String(), primary_key=True),
    Column("key_id", String(8), primary_key=True),
    Column("line", Text(), nullable=False),
    Column("created_at", String(32), nullable=False),
)

LOG_TABLES = (entries_t.name, nodes_t.name, checkpoints_t.name, cosignatures_t.name)
# pg_advisory_xact_lock key: first 8 bytes of SHA-256("ordinance.log.append"), as a signed int64
APPEND_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"ordinance.log.append").digest()[:8], "big", signed=True
)


# --------------------------------------------------------------------------- schema


def create_schema(conn: Connection) -> None:
    """Create the log tables, indexes and append-only triggers (idempotent)."""
    metadata.create_all(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        for table in LOG_TABLES:
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} "
                    f"BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ordinance audit log is append-only'); END"
                )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION ordinance_log_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            # '%%' is a literal '%' for the driver's paramstyle: plpgsql sees '%'
            "RAISE EXCEPTION 'ordinance audit log is append-only (%% on %%)', TG_OP, TG_TABLE_NAME; "
            "END $$"
        )
        for table in LOG_TABLES:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ordinance_log_append_only()"
            )
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ordinance_log_append_only()"
            )


def drop_schema(conn: Connection) -> None:
    """Drop the log tables (the downgrade of migration 0002)."""
    if conn.dialect.name == "postgresql":
        for table in LOG_TABLES:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    metadata.drop_all(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS ordinance_log_append_only()")

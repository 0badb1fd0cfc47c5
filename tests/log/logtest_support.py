"""Shared helpers for log tests (statements, attacker-style DB access)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from ordinance.log import PREDICATE_REGISTRATION, PREDICATE_TRANSITION, make_statement
from ordinance.log.schema import LOG_TABLES

ORIGIN = "ordinance.local/test"


class Clock:
    """A deterministic clock: each call advances one minute."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def stmt(i: int, model: str | None = None, ptype: str = PREDICATE_REGISTRATION) -> dict[str, Any]:
    name = model or f"model-{i % 3}"
    digest = hashlib.sha256(f"{name}-{i}".encode()).hexdigest()
    return make_statement(name, digest, ptype, {"version": str(i), "actor": "alice"})


def transition(i: int, model: str) -> dict[str, Any]:
    return stmt(i, model, PREDICATE_TRANSITION)


def disable_triggers(conn: Connection) -> None:
    """What an attacker with DB admin does first."""
    for table in LOG_TABLES:
        if conn.dialect.name == "sqlite":
            for op in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
        else:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")


def attack(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        disable_triggers(conn)
        conn.execute(text(sql), params or {})

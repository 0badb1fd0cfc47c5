"""One database transaction for writes that must land together or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ordinance.errors import InfrastructureError

__all__ = ["write_transaction"]


@contextmanager
def write_transaction(engine: Engine, what: str = "write") -> Iterator[Connection]:
    """One database transaction for writes that must land together or not at all.

    Log appends (``append_statements_in``/``append_envelopes_in``) and the index rows that
    point at them (versions, transitions, approvals) go through it, so a crash or a refused
    write never leaves one without the other. On SQLite it begins with ``BEGIN IMMEDIATE``
    (the writer lock from the start); on PostgreSQL it takes the log's advisory transaction
    lock first, so that concurrent writers (two first registrations of one model on two
    servers' threads) serialize instead of colliding on the index rows. Keep it short: other
    writers wait for it.
    """
    try:
        conn = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with conn, conn.begin():
            if conn.dialect.name == "postgresql":
                from ordinance.log.schema import APPEND_LOCK_KEY

                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_KEY})
            yield conn
    except SQLAlchemyError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InfrastructureError(f"{what} failed: {first}") from exc

"""Creating SQLAlchemy engines for the two supported backends.

Creating an engine does no I/O: SQLAlchemy connects lazily on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, QueuePool
from sqlmodel import create_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalize_url(url: str) -> str:
    """Map plain ``postgresql://`` URLs onto the psycopg 3 driver we ship."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql" and "+" not in u.drivername:
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, pool: int | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys.

    ``pool`` is how many connections the engine may hold at once (default 10). A server
    that runs N request threads, each of which may hold a connection while a nested read
    takes another, needs at least 2N + 1 to never wait on itself (``ordinance serve``
    sizes it; see :func:`ordinance.server.create_app`).
    """
    url = normalize_url(url)
    keep, extra = (2, 8) if pool is None else (max(1, pool // 2), pool - max(1, pool // 2))
    if is_sqlite(url):
        # A small pool: opening a SQLite connection (and its pragmas) per transaction costs
        # milliseconds; a pooled connection makes a durable one-entry append ~10x cheaper.
        in_memory = make_url(url).database in (None, "", ":memory:")
        engine = create_engine(
            url,
            poolclass=NullPool if in_memory else QueuePool,
            pool_size=keep,
            max_overflow=extra,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # pysqlite's own transaction handling is off (isolation_level=None); we issue
            # BEGIN ourselves so that writers take the lock up front and serialize cleanly.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if pool is None:
        keep, extra = 5, 5
    return create_engine(url, pool_pre_ping=True, pool_size=keep, max_overflow=extra)

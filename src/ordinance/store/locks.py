"""Serializing promotions of one model across processes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

__all__ = ["model_lock"]


def _lock_key(model: str) -> int:
    digest = hashlib.sha256(f"ordinance.promote:{model}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def model_lock(engine: Engine, model: str) -> Iterator[None]:
    """Serialize promotions of one model across processes.

    PostgreSQL: a session-level advisory lock on a dedicated connection. SQLite: an
    exclusive ``flock`` on a lock file next to the database file.
    """
    if engine.dialect.name == "postgresql":
        key = _lock_key(model)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(f"{database}.promote-{_lock_key(model) & 0xFFFFFFFF:08x}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

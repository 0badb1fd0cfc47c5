"""The evidence-blob lock: shared while a writer stages blobs and commits rows, exclusive
while a failed writer removes the blobs it created that no row references.

Its scope is the database's: every process writing to one database takes it.
PostgreSQL: a session-level advisory lock (shared/exclusive) on a dedicated connection, so
it holds across machines sharing an S3 bucket or a network directory. SQLite: a ``flock`` on
a file next to the database file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import Connection, Engine, text

_KEY = int.from_bytes(hashlib.sha256(b"ordinance.evidence-blobs").digest()[:8], "big", signed=True)


class BlobLock(Protocol):
    def exclusive(self) -> None:
        """Trade the shared hold for an exclusive one (waits for every other holder)."""
        ...


class _Nothing:
    def exclusive(self) -> None:
        return None


class _Advisory:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.mode = "shared"

    def exclusive(self) -> None:
        self._conn.execute(text("SELECT pg_advisory_unlock_shared(:k)"), {"k": _KEY})
        self.mode = "none"
        self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _KEY})
        self.mode = "exclusive"


class _Flock:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def exclusive(self) -> None:
        import fcntl

        fcntl.flock(self._fd, fcntl.LOCK_EX)


@contextmanager
def blob_lock(engine: Engine) -> Iterator[BlobLock]:
    """Hold the blob lock shared for the block; the block may upgrade it."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock_shared(:k)"), {"k": _KEY})
            lock = _Advisory(conn)
            try:
                yield lock
            finally:
                if lock.mode == "shared":
                    conn.execute(text("SELECT pg_advisory_unlock_shared(:k)"), {"k": _KEY})
                elif lock.mode == "exclusive":
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _KEY})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield _Nothing()
        return
    import fcntl

    fd = os.open(f"{database}.evidence.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield _Flock(fd)
    finally:
        os.close(fd)  # releases the flock

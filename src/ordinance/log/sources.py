"""Where a log verifier reads a log from: the database (:class:`DbSource`) or a bundle
directory (:class:`ordinance.log.bundle.BundleSource`), behind one protocol."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from sqlalchemy import Engine, select

from ordinance.log.dsse import PREDICATE_KEY_CHANGE

__all__ = ["DbSource", "EntryBatches", "IndexedBatches", "LogSource"]

EntryBatches = Generator[list[tuple[int, bytes, bytes | None]], None, None]
"""Batches of (index, envelope bytes, stored leaf hash or None), in index order."""
IndexedBatches = Generator[list[tuple[int, bytes, str | None, str | None]], None, None]
"""Batches of (index, envelope bytes, indexed predicate type, indexed subject name)."""

_BATCH = 20_000
_DEEP_CHUNK = 5_000


class LogSource(Protocol):
    """Where a verifier reads a log from: the database or a bundle directory."""

    def entry_count(self) -> int: ...

    def checkpoints(self) -> list[str]: ...

    def key_change_indices(self) -> list[int]:
        """Hint: indices of key-change entries (unauthenticated; a wrong hint fails closed)."""
        ...

    def entry_bytes(self, index: int) -> bytes | None: ...

    def iter_entries(self) -> EntryBatches:
        """Batches of (index, envelope bytes, stored leaf hash or None), in index order."""
        ...

    def iter_indexed(
        self,
    ) -> IndexedBatches:
        """Batches of (index, envelope, indexed predicate type, indexed subject) for deep checks."""
        ...


class DbSource:
    """Read a log straight from its tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def entry_count(self) -> int:
        from ordinance.log.queries import count_entries

        with self._engine.connect() as conn:
            return count_entries(conn)

    def checkpoints(self) -> list[str]:
        from ordinance.log.queries import _all_checkpoints

        with self._engine.connect() as conn:
            return _all_checkpoints(conn)

    def key_change_indices(self) -> list[int]:
        from ordinance.log.schema import entries_t

        with self._engine.connect() as conn:
            rows = conn.execute(
                select(entries_t.c.idx)
                .where(entries_t.c.predicate_type == PREDICATE_KEY_CHANGE)
                .order_by(entries_t.c.idx)
            )
            return [int(r.idx) for r in rows]

    def entry_bytes(self, index: int) -> bytes | None:
        from ordinance.log.schema import entries_t

        with self._engine.connect() as conn:
            v = conn.execute(select(entries_t.c.envelope).where(entries_t.c.idx == index)).scalar()
        return None if v is None else bytes(v)

    def iter_entries(self) -> EntryBatches:
        yield from self._stream(
            "SELECT idx, envelope, leaf_hash FROM ordinance_log_entry ORDER BY idx", _BATCH
        )

    def iter_indexed(
        self,
    ) -> IndexedBatches:
        yield from self._stream(
            "SELECT idx, envelope, predicate_type, subject_name FROM ordinance_log_entry ORDER BY idx",
            _DEEP_CHUNK,
        )

    def _stream(self, query: str, batch: int) -> Generator[list[Any], None, None]:
        """Rows of ``query`` in batches, straight from the DBAPI cursor (no SQL-layer rows).

        SQLite streams a plain cursor; PostgreSQL uses a server-side (named) cursor, so the
        client holds one batch at a time rather than the whole table.
        """
        raw = self._engine.raw_connection()
        try:
            if self._engine.dialect.name == "postgresql":
                # binary results: bytea arrives as raw bytes, not hex text twice the size
                cur = raw.driver_connection.cursor(name="ordinance_log_verify", binary=True)  # type: ignore[union-attr]
                cur.itersize = batch
            else:
                cur = raw.cursor()
            try:
                cur.execute(query)
                while True:
                    rows = cur.fetchmany(batch)
                    if not rows:
                        return
                    yield rows
            finally:
                cur.close()
        finally:
            raw.close()

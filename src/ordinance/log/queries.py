"""Driver-level SQL for the log's hot paths: the head, stored tree nodes, checkpoints with
their cosignatures. Only placeholders are ever substituted into these strings; values are
always bound."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, func, select

from ordinance.errors import VerificationError
from ordinance.log import merkle
from ordinance.log.schema import checkpoints_t, cosignatures_t, entries_t

__all__ = ["count_entries"]


def _head(conn: Connection) -> tuple[int, bytes, str | None]:
    row = conn.execute(
        select(checkpoints_t.c.tree_size, checkpoints_t.c.root_hash, checkpoints_t.c.note)
        .order_by(checkpoints_t.c.tree_size.desc())
        .limit(1)
    ).first()
    if row is None:
        return 0, merkle.EMPTY_ROOT, None
    return int(row.tree_size), bytes(row.root_hash), str(row.note)


_COSIGNED = (
    "SELECT c.tree_size, c.root_hash, c.note, s.line FROM ({}) c "
    "LEFT JOIN ordinance_log_cosignature s ON s.tree_size = c.tree_size "
    "ORDER BY s.created_at, s.key_name"
)
_HEAD = "SELECT tree_size, root_hash, note FROM ordinance_log_checkpoint ORDER BY tree_size DESC LIMIT 1"
_AT = "SELECT tree_size, root_hash, note FROM ordinance_log_checkpoint WHERE tree_size = ?"
_LEAVES = "SELECT 0, idx, leaf_hash FROM ordinance_log_entry WHERE idx IN ({})"
_INNER = "SELECT level, idx, hash FROM ordinance_log_node WHERE {}"
_PG_NODES = (
    "SELECT 0, idx, leaf_hash FROM ordinance_log_entry WHERE idx = ANY(%s::bigint[]) "
    "UNION ALL SELECT n.level, n.idx, n.hash FROM ordinance_log_node n "
    "JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, idx) "
    "ON n.level = k.level AND n.idx = k.idx"
)


@dataclass(frozen=True)
class _Sql:
    """Driver-level SQL for the hot paths, in the driver's placeholder style.

    Only placeholders are ever substituted into these strings; values are always bound.
    """

    ph: str
    lock: str = "SELECT pg_advisory_xact_lock(?)"
    head: str = _HEAD
    head_with_cosignatures: str = _COSIGNED.format(_HEAD)
    checkpoint_with_cosignatures: str = _COSIGNED.format(_AT)
    insert_entry: str = (
        "INSERT INTO ordinance_log_entry (idx, leaf_hash, envelope, predicate_type, "
        "subject_name, subject_digest, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    insert_node: str = "INSERT INTO ordinance_log_node (level, idx, hash) VALUES (?, ?, ?)"
    entry_range: str = (
        "SELECT idx, envelope, leaf_hash, predicate_type FROM ordinance_log_entry "
        "WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?"
    )
    insert_checkpoint: str = (
        "INSERT INTO ordinance_log_checkpoint (tree_size, root_hash, note, created_at) "
        "VALUES (?, ?, ?, ?)"
    )

    def styled(self) -> _Sql:
        """The same statements with the driver's placeholder instead of ``?``."""
        if self.ph == "?":
            return self
        fields = {k: v.replace("?", self.ph) for k, v in vars(self).items() if k != "ph"}
        return _Sql(ph=self.ph, **fields)

    def nodes(self, leaves: int, inner: int) -> str:
        """One query for ``leaves`` leaf hashes and ``inner`` stored nodes (slot counts)."""
        parts = []
        if leaves:
            parts.append(_LEAVES.format(", ".join([self.ph] * leaves)))
        if inner:
            parts.append(_INNER.format(" OR ".join(["(level = ? AND idx = ?)"] * inner)))
        return " UNION ALL ".join(parts).replace("?", self.ph)


def _make_sql(ph: str) -> _Sql:
    return _Sql(ph=ph).styled()


_SQL_QMARK = _make_sql("?")
_SQL_FORMAT = _make_sql("%s")


def _sql(conn: Connection | Any) -> _Sql:
    """The SQL set for a SQLAlchemy connection (or engine)."""
    return _SQL_QMARK if conn.dialect.paramstyle in ("qmark", "numeric") else _SQL_FORMAT


_SLOTS = (4, 8, 16, 32, 64)


def _slots(n: int) -> int:
    return 0 if n == 0 else next(k for k in _SLOTS if k >= n)


def _fetch_nodes(conn: Connection, nodes: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
    """Look up perfect nodes: level 0 from the entries' leaf hashes, others from the nodes.

    SQLite: one statement per up to 64 leaves and 64 inner nodes, with the slot counts rounded
    up (padded with -1) so few distinct statements exist and the statement cache hits.
    PostgreSQL: one fixed statement with array parameters (prepared once per connection).
    Every lookup is a primary-key lookup.
    """
    return _fetch_nodes_raw(conn.exec_driver_sql, _sql(conn), nodes)


def _fetch_nodes_raw(
    execute: Callable[[str, Any], Any], sql: _Sql, nodes: Sequence[merkle.Node]
) -> dict[merkle.Node, bytes]:
    out: dict[merkle.Node, bytes] = {}
    leaves = sorted({i for lv, i in nodes if lv == 0})
    inner = sorted({(lv, i) for lv, i in nodes if lv > 0})
    if sql.ph == "%s":
        # PostgreSQL: one statement whatever the counts, with array parameters, so psycopg
        # prepares it once per connection and the server does not re-plan it per call
        for lv, ix, h in execute(_PG_NODES, _pg_node_arrays(nodes)):
            out[(int(lv), int(ix))] = bytes(h)
        leaves, inner = [], []
    top = _SLOTS[-1]
    for pos in range(0, max(len(leaves), len(inner)), top):
        part = leaves[pos : pos + top]
        part2 = inner[pos : pos + top]
        kl, ki = _slots(len(part)), _slots(len(part2))
        params: list[int] = part + [-1] * (kl - len(part))
        for lv, ix in part2:
            params += (lv, ix)
        params += [-1, -1] * (ki - len(part2))
        for lv, ix, h in execute(sql.nodes(kl, ki), tuple(params)):
            out[(int(lv), int(ix))] = bytes(h)
    missing = [n for n in nodes if n not in out]
    if missing:
        raise VerificationError(f"the log's stored tree is missing node {missing[0]}")
    return out


@cache
def _pipelines() -> bool:
    """Whether psycopg's libpq can pipeline (libpq 14+; the binary wheel always can)."""
    from psycopg import Pipeline

    return bool(Pipeline.is_supported())


def _pg_node_arrays(nodes: Sequence[merkle.Node]) -> tuple[str, str, str]:
    """The array parameters of ``_PG_NODES``: leaf indices, inner levels, inner indices.

    As array literals (``{1,2,3}``, cast by the query): a third of the client CPU psycopg
    spends adapting Python lists, on every proof.
    """
    inner = sorted({(lv, i) for lv, i in nodes if lv > 0})
    leaves = sorted({i for lv, i in nodes if lv == 0})
    return (
        "{" + ",".join(map(str, leaves)) + "}",
        "{" + ",".join(str(lv) for lv, _ in inner) + "}",
        "{" + ",".join(str(ix) for _, ix in inner) + "}",
    )


def _cosignature_lines(conn: Connection, size: int | None = None) -> dict[int, list[str]]:
    q = select(cosignatures_t.c.tree_size, cosignatures_t.c.line).order_by(
        cosignatures_t.c.tree_size, cosignatures_t.c.created_at, cosignatures_t.c.key_name
    )
    if size is not None:
        q = q.where(cosignatures_t.c.tree_size == size)
    out: dict[int, list[str]] = {}
    for row in conn.execute(q):
        out.setdefault(int(row.tree_size), []).append(str(row.line))
    return out


def _with_cosignatures(conn: Connection, size: int, note: str) -> str:
    lines = _cosignature_lines(conn, size).get(size, [])
    return note + "".join(lines)


def _all_checkpoints(conn: Connection) -> list[str]:
    cos = _cosignature_lines(conn)
    rows = conn.execute(
        select(checkpoints_t.c.tree_size, checkpoints_t.c.note).order_by(checkpoints_t.c.tree_size)
    )
    return [str(r.note) + "".join(cos.get(int(r.tree_size), [])) for r in rows]


def count_entries(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(entries_t)).scalar_one())

"""Tables and SQL access for signed approvals, waivers, their revocations and the roster history.

These tables are an *index* over what the audit log already holds verbatim: each approval or
waiver row keeps the exact DSSE envelope bytes that were appended to the log (and its log
index), so every decision re-verifies the signature from the stored bytes instead of trusting
a column. The roster history keeps every applied roster document, so "which roles did this
key hold at time T" is a lookup, not a guess.

Tables (their own ``MetaData``; created by migration 0003 through :func:`create_schema`):

* ``ordinance_approval``             one row per signed approval or waiver (``kind``)
* ``ordinance_approval_revocation``  one row per signed revocation of an approval or waiver
* ``ordinance_roster_version``       one row per applied roster (document, digest, diff)

Timestamps are stored as fixed-width UTC strings (``2026-01-31T09:00:00.000000Z``) so they
sort as text identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ordinance.errors import ConflictError, InfrastructureError

if TYPE_CHECKING:
    from ordinance.ledger import Ledger

__all__ = [
    "ApprovalStore",
    "RevocationRow",
    "RosterRow",
    "SignedRow",
    "create_schema",
    "drop_schema",
    "metadata",
    "parse_ts",
    "ts",
]

metadata = MetaData()
_Id = BigInteger().with_variant(Integer(), "sqlite")

approvals_t = Table(
    "ordinance_approval",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # approval | waiver
    Column("digest", String(64), nullable=False, unique=True),
    Column("model_name", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("stage", String(64), nullable=False),  # "" for a waiver valid for every stage
    Column("rule", String(256), nullable=False),  # "" for approvals
    Column("approver", String(256), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("signed_at", String(32), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=True),
    Column("envelope", LargeBinary(), nullable=False),
    Column("log_index", BigInteger(), nullable=True),
)
Index("ix_ordinance_approval_version", approvals_t.c.model_name, approvals_t.c.version)

revocations_t = Table(
    "ordinance_approval_revocation",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("approval_digest", String(64), nullable=False, index=True),
    Column("revoker", String(256), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("revoked_at", String(32), nullable=False),
    Column("envelope", LargeBinary(), nullable=False),
    Column("log_index", BigInteger(), nullable=True),
)

roster_t = Table(
    "ordinance_roster_version",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("applied_at", String(32), nullable=False, index=True),
    Column("digest", String(64), nullable=False),
    Column("document", Text(), nullable=False),  # canonical JSON of the roster
    Column("diff", Text(), nullable=False),  # JSON
    Column("actor", String(256), nullable=False),
    Column("log_index", BigInteger(), nullable=True),
    Column("entry_sha256", String(64), nullable=True),
)

TABLES = (approvals_t, revocations_t, roster_t)
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(dt: datetime) -> str:
    """Fixed-width UTC text for a timestamp (naive values are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime(_TS_FORMAT)


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, _TS_FORMAT).replace(tzinfo=UTC)


def create_schema(conn: Connection) -> None:
    """Create the approval tables (idempotent)."""
    metadata.create_all(conn, checkfirst=True)


def drop_schema(conn: Connection) -> None:
    metadata.drop_all(conn, checkfirst=True)


@dataclass(frozen=True)
class SignedRow:
    """An approval or waiver as indexed; the envelope is the authority, not the columns."""

    id: int
    kind: str
    digest: str
    model: str
    version: str
    stage: str
    rule: str
    approver: str
    key_id: str
    signed_at: datetime
    recorded_at: datetime
    expires_at: datetime | None
    envelope: bytes
    log_index: int | None


@dataclass(frozen=True)
class RevocationRow:
    id: int
    approval_digest: str
    revoker: str
    reason: str
    revoked_at: datetime
    envelope: bytes
    log_index: int | None


@dataclass(frozen=True)
class RosterRow:
    applied_at: datetime
    digest: str
    document: dict[str, Any]
    diff: dict[str, Any]
    actor: str
    log_index: int | None
    id: int = 0
    entry_sha256: str | None = None


def _signed(r: Any) -> SignedRow:
    return SignedRow(
        id=int(r.id),
        kind=r.kind,
        digest=r.digest,
        model=r.model_name,
        version=r.version,
        stage=r.stage,
        rule=r.rule,
        approver=r.approver,
        key_id=r.key_id,
        signed_at=parse_ts(r.signed_at),
        recorded_at=parse_ts(r.recorded_at),
        expires_at=None if r.expires_at is None else parse_ts(r.expires_at),
        envelope=bytes(r.envelope),
        log_index=None if r.log_index is None else int(r.log_index),
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class ApprovalStore:
    """SQL access to the approval tables. The constructor does no I/O."""

    def __init__(self, engine: Engine, guard: Ledger | None = None) -> None:
        """``guard`` checks every row read against the log (see :mod:`ordinance.ledger`)."""
        self._engine = engine
        self._guard = guard

    @contextmanager
    def _conn(self, write: bool = False, outer: Connection | None = None) -> Iterator[Connection]:
        """A connection in a transaction: ``outer`` (the caller's, committed by the caller,
        e.g. together with the log entry these rows index) or a new one committed here."""
        try:
            if outer is not None:
                yield outer
                return
            conn = self._engine.connect()
            if write:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn, conn.begin():
                yield conn
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            text = str(exc)
            if "no such table" in text or ("relation" in text and "does not exist" in text):
                raise InfrastructureError(
                    "the database has no approvals schema: run `ordinance db upgrade`"
                ) from exc
            raise InfrastructureError(f"database error: {_first_line(exc)}") from exc

    # -- approvals and waivers ---------------------------------------------------------------
    def add_signed(
        self,
        *,
        kind: str,
        digest: str,
        model: str,
        version: str,
        stage: str,
        rule: str,
        approver: str,
        key_id: str,
        signed_at: datetime,
        recorded_at: datetime,
        expires_at: datetime | None,
        envelope: bytes,
        log_index: int | None,
        conn: Connection | None = None,
    ) -> None:
        try:
            with self._conn(write=True, outer=conn) as c:
                c.execute(
                    insert(approvals_t),
                    {
                        "kind": kind,
                        "digest": digest,
                        "model_name": model,
                        "version": version,
                        "stage": stage,
                        "rule": rule,
                        "approver": approver,
                        "key_id": key_id,
                        "signed_at": ts(signed_at),
                        "recorded_at": ts(recorded_at),
                        "expires_at": None if expires_at is None else ts(expires_at),
                        "envelope": envelope,
                        "log_index": log_index,
                    },
                )
        except IntegrityError as exc:
            raise ConflictError(f"this signed {kind} ({digest[:12]}…) is already recorded") from exc

    def signed(
        self, model: str, version: str | None = None, kind: str | None = None
    ) -> list[SignedRow]:
        if self._guard is not None:
            # check every row of the version (or model), whatever the kind asked for
            every = self._signed_rows(model, version, None)
            self._guard.signed(model, version, every)
            return [r for r in every if kind is None or r.kind == kind]
        return self._signed_rows(model, version, kind)

    def _signed_rows(self, model: str, version: str | None, kind: str | None) -> list[SignedRow]:
        q = select(approvals_t).where(approvals_t.c.model_name == model)
        if version is not None:
            q = q.where(approvals_t.c.version == version)
        if kind is not None:
            q = q.where(approvals_t.c.kind == kind)
        with self._conn() as c:
            return [_signed(r) for r in c.execute(q.order_by(approvals_t.c.id))]

    def by_digest(self, digest: str) -> SignedRow | None:
        with self._conn() as c:
            r = c.execute(select(approvals_t).where(approvals_t.c.digest == digest)).first()
        if r is None:
            return None
        row = _signed(r)
        if self._guard is not None:
            return next(
                (x for x in self.signed(row.model, row.version) if x.digest == digest), None
            )
        return row

    # -- revocations -------------------------------------------------------------------------
    def add_revocation(
        self,
        *,
        approval_digest: str,
        revoker: str,
        reason: str,
        revoked_at: datetime,
        envelope: bytes,
        log_index: int | None,
        conn: Connection | None = None,
    ) -> None:
        with self._conn(write=True, outer=conn) as c:
            c.execute(
                insert(revocations_t),
                {
                    "approval_digest": approval_digest,
                    "revoker": revoker,
                    "reason": reason,
                    "revoked_at": ts(revoked_at),
                    "envelope": envelope,
                    "log_index": log_index,
                },
            )

    def revocations(self, digests: list[str]) -> list[RevocationRow]:
        if not digests:
            return []
        q = select(revocations_t).order_by(revocations_t.c.id)
        if self._guard is None:
            q = q.where(revocations_t.c.approval_digest.in_(digests))
        with self._conn() as c:
            rows = [
                RevocationRow(
                    id=int(r.id),
                    approval_digest=r.approval_digest,
                    revoker=r.revoker,
                    reason=r.reason,
                    revoked_at=parse_ts(r.revoked_at),
                    envelope=bytes(r.envelope),
                    log_index=None if r.log_index is None else int(r.log_index),
                )
                for r in c.execute(q)
            ]
        if self._guard is not None:
            # revocations are few: every row is checked against every revocation entry,
            # so a deleted row cannot bring an approval back
            self._guard.revocations(rows)
            wanted = set(digests)
            rows = [r for r in rows if r.approval_digest in wanted]
        return rows

    # -- roster history ----------------------------------------------------------------------
    def add_roster(
        self,
        *,
        applied_at: datetime,
        digest: str,
        document: dict[str, Any],
        diff: dict[str, Any],
        actor: str,
        log_index: int | None,
        conn: Connection | None = None,
    ) -> None:
        with self._conn(write=True, outer=conn) as c:
            from ordinance.store.registry import entry_sha256

            c.execute(
                insert(roster_t),
                {
                    "entry_sha256": entry_sha256(c, log_index),
                    "applied_at": ts(applied_at),
                    "digest": digest,
                    "document": json.dumps(document, sort_keys=True),
                    "diff": json.dumps(diff, sort_keys=True),
                    "actor": actor,
                    "log_index": log_index,
                },
            )

    def rosters(self, until: datetime | None = None) -> list[RosterRow]:
        """Applied rosters, oldest first (only those applied at or before ``until``)."""
        q = select(roster_t).order_by(roster_t.c.applied_at, roster_t.c.id)
        if until is not None and self._guard is None:
            q = q.where(roster_t.c.applied_at <= ts(until))
        with self._conn() as c:
            rows = [
                RosterRow(
                    applied_at=parse_ts(r.applied_at),
                    digest=r.digest,
                    document=json.loads(r.document),
                    diff=json.loads(r.diff),
                    actor=r.actor,
                    log_index=None if r.log_index is None else int(r.log_index),
                    id=int(r.id),
                    entry_sha256=r.entry_sha256,
                )
                for r in c.execute(q)
            ]
        if self._guard is not None:
            # every roster row against every roster-change entry: an unlogged row cannot
            # grant a role, a deleted one cannot take one away
            self._guard.rosters(rows)
            if until is not None:
                rows = [r for r in rows if r.applied_at <= until]
        return rows

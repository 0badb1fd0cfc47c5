"""The registry store: models, versions, evidence rows, evaluations and transitions.

:class:`RegistryStore` is the interface the core uses. :class:`SqlRegistry` implements
it on SQLite and PostgreSQL through SQLModel/SQLAlchemy (bound parameters only);
:class:`ordinance.store.memory.InMemoryRegistry` is a real, complete fake for tests.
Constructors do no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col

from ordinance.errors import ConflictError, InfrastructureError, NotFoundError
from ordinance.log.schema import entries_t
from ordinance.model import (
    RISK_TIER_PATTERN,
    Evidence,
    Identity,
    Lineage,
    Model,
    ModelVersion,
    RiskTier,
)
from ordinance.store._tables import (
    EvaluationRow,
    EvidenceRow,
    ModelRow,
    TransitionRow,
    VersionRow,
)

if TYPE_CHECKING:
    from ordinance.ledger import Ledger


_T = TypeVar("_T")


@dataclass(frozen=True)
class TransitionRecord:
    """One stage change (or denied attempt) of a version."""

    model: str
    version: str
    from_stage: str | None
    to_stage: str
    actor: str
    at: datetime
    kind: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    log_index: int | None = None


class RegistryStore(Protocol):
    """What the core needs from storage."""

    def add_version(self, version: ModelVersion) -> None: ...
    def add_evidence(self, model: str, version: str, evidence: Sequence[Evidence]) -> None: ...
    def get_model(self, name: str) -> Model: ...
    def list_models(self) -> list[tuple[Model, list[ModelVersion]]]: ...
    def get_version(self, model: str, version: str | None = None) -> ModelVersion: ...
    def list_versions(self, model: str) -> list[ModelVersion]: ...
    def find_version_in_stage(self, model: str, stage: str) -> ModelVersion | None: ...
    def add_evaluation(
        self,
        version: ModelVersion,
        stage: str,
        verdict: str,
        evaluated_at: datetime,
        policy_digests: dict[str, Any],
        result: dict[str, Any],
        log_index: int | None,
    ) -> int: ...
    def evaluations(self, model: str, version: str) -> list[dict[str, Any]]: ...
    def apply_transitions(self, records: Sequence[TransitionRecord]) -> None: ...
    def transitions(self, model: str | None = None) -> list[TransitionRecord]: ...


def _tier(value: str) -> RiskTier | None:
    """The stored tier (``""``: none declared)."""
    if not value:
        return None
    if not re.fullmatch(RISK_TIER_PATTERN, value):
        raise InfrastructureError(f"corrupt registry row: bad risk tier {value!r}")
    return value


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _version_from_rows(m: ModelRow, v: VersionRow, ev: Sequence[EvidenceRow]) -> ModelVersion:
    return ModelVersion(
        # the model's facts as this version registered them, not as a later one changed them
        model=Model(
            name=m.name,
            owner=v.owner,
            risk_tier=_tier(v.risk_tier),
            description=v.description,
            tags=tuple(v.tags),
        ),
        version=v.version,
        stage=v.stage,
        author=v.author,
        created_at=_aware(v.created_at),
        registered_at=_aware(v.registered_at),
        identity=Identity.model_validate(v.identity),
        lineage=Lineage.model_validate(v.lineage),
        metrics=dict(v.metrics),
        documentation=dict(v.documentation),
        evidence=tuple(
            Evidence(
                kind=e.kind,
                name=e.name,
                sha256=e.sha256,
                size=e.size,
                media_type=e.media_type,
                created_at=_aware(e.created_at),
                attributes=dict(e.attributes),
                description=e.description,
            )
            for e in ev
        ),
        manifest_sha256=v.manifest_sha256,
    )


def _evidence_row(
    version_id: int, e: Evidence, log_index: int | None, binding: str | None
) -> dict[str, Any]:
    return {
        "log_index": log_index,
        "entry_sha256": binding,
        "version_id": version_id,
        "kind": e.kind,
        "name": e.name,
        "sha256": e.sha256,
        "size": e.size,
        "media_type": e.media_type,
        "created_at": e.created_at,
        "attributes": e.attributes,
        "description": e.description,
    }


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def entry_sha256(s: Session | Connection, log_index: int | None) -> str | None:
    """SHA-256 of the envelope of log entry ``log_index`` as seen in this transaction: what
    an index row written with it is bound to (``None`` without a log)."""
    if log_index is None:
        return None
    env = s.execute(select(entries_t.c.envelope).where(entries_t.c.idx == log_index)).scalar()
    # no such entry: the row stays unbound, and a guarded read refuses it
    return None if env is None else hashlib.sha256(bytes(env)).hexdigest()


def _insert_version(s: Session, version: ModelVersion, log_index: int | None = None) -> None:
    """Add a version's model (created or updated), version and evidence rows; flush."""
    m = version.model
    binding = entry_sha256(s, log_index)
    facts: dict[str, Any] = {
        "owner": m.owner,
        "risk_tier": m.risk_tier or "",
        "description": m.description,
        "tags": list(m.tags),
    }
    # the model row shows the newest registration's facts; concurrent first registrations
    # of one model all succeed here (no unique violation that would read "already registered")
    dialect = s.get_bind().dialect.name
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(ModelRow)
    s.execute(
        upsert.values(name=m.name, created_at=version.registered_at, **facts).on_conflict_do_update(
            index_elements=["name"], set_=facts
        )
    )
    vrow = VersionRow(
        owner=m.owner,
        risk_tier=m.risk_tier or "",
        description=m.description,
        tags=list(m.tags),
        model_name=m.name,
        version=version.version,
        stage=version.stage,
        author=version.author,
        created_at=version.created_at,
        registered_at=version.registered_at,
        identity_sha256=version.identity.sha256,
        identity=version.identity.model_dump(mode="json"),
        lineage=version.lineage.model_dump(mode="json"),
        metrics=dict(version.metrics),
        documentation=dict(version.documentation),
        manifest_sha256=version.manifest_sha256,
        log_index=log_index,
        entry_sha256=binding,
    )
    s.add(vrow)
    s.flush()
    assert vrow.id is not None
    rows = [_evidence_row(vrow.id, e, log_index, binding) for e in version.evidence]
    if rows:
        s.execute(insert(EvidenceRow), rows)


def _infrastructure(exc: SQLAlchemyError) -> InfrastructureError:
    text = str(exc)
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return InfrastructureError(
            "the database has no Ordinance schema: run `ordinance db upgrade` (or `ordinance init`)"
        )
    return InfrastructureError(f"database error: {_first_line(exc)}")


class SqlRegistry:
    """The registry on a SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, guard: Ledger | None = None) -> None:
        """``guard`` checks every row read against the log (see :mod:`ordinance.ledger`):
        what the reads return is then what the log vouches for."""
        self._engine = engine
        self._guard = guard

    @contextmanager
    def _session(self, write: bool = False, outer: Connection | None = None) -> Iterator[Session]:
        """A session on a new connection (committed here when ``write``), or on ``outer``: the
        caller's transaction, e.g. with the log entry these rows index; committed by the caller."""
        try:
            if outer is not None:
                with Session(bind=outer) as session:
                    yield session
                    session.flush()
                return
            conn = self._engine.connect()
            if write and self._engine.dialect.name == "sqlite":
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn, Session(bind=conn) as session:
                yield session
                if write:
                    session.commit()
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise _infrastructure(exc) from exc

    # -- versions ---------------------------------------------------------------------------
    def add_version(self, version: ModelVersion) -> None:
        try:
            with self._session(write=True) as s:
                _insert_version(s, version)
        except IntegrityError as exc:
            raise ConflictError(f"{version.ref} is already registered") from exc

    def add_version_in(
        self, conn: Connection, version: ModelVersion, *, log_index: int | None = None
    ) -> None:
        """:meth:`add_version` on ``conn``, inside the caller's transaction; commits nothing.

        So that other writes (the version's audit-log entry) commit with it or not at all.
        On SQLite, begin ``conn`` with ``BEGIN IMMEDIATE`` (``sqlite_begin="IMMEDIATE"``).
        """
        try:
            with self._session(write=True, outer=conn) as s:
                _insert_version(s, version, log_index)
        except IntegrityError as exc:
            raise ConflictError(f"{version.ref} is already registered") from exc

    def add_evidence(
        self,
        model: str,
        version: str,
        evidence: Sequence[Evidence],
        *,
        conn: Connection | None = None,
        log_index: int | None = None,
    ) -> None:
        """Attach evidence produced after registration (append-only: rows are never changed),
        indexing log entry ``log_index``."""
        with self._session(write=True, outer=conn) as s:
            _, v = self._version_rows(s, model, version)
            assert v.id is not None
            binding = entry_sha256(s, log_index)
            if evidence:
                s.execute(
                    insert(EvidenceRow),
                    [_evidence_row(v.id, e, log_index, binding) for e in evidence],
                )

    def _version_rows(
        self, s: Session, model: str, version: str | None
    ) -> tuple[ModelRow, VersionRow]:
        m = s.get(ModelRow, model)
        if m is None:
            raise NotFoundError(f"unknown model {model!r}")
        q = select(VersionRow).where(col(VersionRow.model_name) == model)
        if version is None:
            q = q.order_by(col(VersionRow.registered_at).desc(), col(VersionRow.id).desc())
        else:
            q = q.where(col(VersionRow.version) == version)
        v = s.execute(q.limit(1)).scalars().first()
        if v is None:
            raise NotFoundError(f"unknown version {model}@{version}")
        return m, v

    def _load(self, s: Session, m: ModelRow, v: VersionRow) -> ModelVersion:
        ev = (
            s.execute(
                select(EvidenceRow)
                .where(col(EvidenceRow.version_id) == v.id)
                .order_by(col(EvidenceRow.id))
            )
            .scalars()
            .all()
        )
        return _version_from_rows(m, v, ev)

    def _guarded(
        self, s: Session, model: str, vrows: Sequence[VersionRow], version: str | None
    ) -> list[ModelVersion]:
        """Versions from their rows, checked against the log by the guard."""
        assert self._guard is not None
        ids = [v.id for v in vrows]
        ev: dict[int | None, list[EvidenceRow]] = {i: [] for i in ids}
        for pos in range(0, len(ids), 500):
            part = ids[pos : pos + 500]
            for e in (
                s.execute(
                    select(EvidenceRow)
                    .where(col(EvidenceRow.version_id).in_(part))
                    .order_by(col(EvidenceRow.id))
                )
                .scalars()
                .all()
            ):
                ev[e.version_id].append(e)
        return self._guard.versions(model, version, [(v, ev[v.id]) for v in vrows])

    def get_model(self, name: str) -> Model:
        if self._guard is not None:
            # the model's facts as its newest registration logged them (per version)
            return self.get_version(name).model
        with self._session() as s:
            m = s.get(ModelRow, name)
            if m is None:
                raise NotFoundError(f"unknown model {name!r}")
            return Model(
                name=m.name,
                owner=m.owner,
                risk_tier=_tier(m.risk_tier),
                description=m.description,
                tags=tuple(m.tags),
            )

    def get_version(self, model: str, version: str | None = None) -> ModelVersion:
        return self._settled(lambda: self._get_version(model, version))

    def list_versions(self, model: str) -> list[ModelVersion]:
        return self._settled(lambda: self._list_versions(model))

    def _settled(self, read: Callable[[], _T]) -> _T:
        """``read``, once more if the guard found a log entry without its row.

        A registration's entry and its row commit in one transaction, but the rows and the
        log are read in two: one that commits between the two reads shows an entry whose row
        the first read missed. Read again: a row that was deleted is still missing then, and
        the mismatch stands.
        """
        from ordinance.ledger import IndexMismatch

        try:
            return read()
        except IndexMismatch:
            if self._guard is None:
                raise
            return read()

    def _get_version(self, model: str, version: str | None) -> ModelVersion:
        if self._guard is not None and version is None:
            versions = self.list_versions(model)
            if not versions:
                raise NotFoundError(f"unknown version {model}@{version}")
            return versions[-1]
        with self._session() as s:
            try:
                m, v = self._version_rows(s, model, version)
            except NotFoundError:
                if self._guard is not None:
                    # a version the log registered but the index lost is a deleted row
                    self._guard.versions(model, version, [])
                raise
            if self._guard is not None:
                return self._guarded(s, model, [v], version)[0]
            return self._load(s, m, v)

    def _list_versions(self, model: str) -> list[ModelVersion]:
        with self._session() as s:
            m = s.get(ModelRow, model)
            if m is None:
                if self._guard is not None:
                    self._guard.versions(model, None, [])
                raise NotFoundError(f"unknown model {model!r}")
            rows = (
                s.execute(
                    select(VersionRow)
                    .where(col(VersionRow.model_name) == model)
                    .order_by(col(VersionRow.registered_at), col(VersionRow.id))
                )
                .scalars()
                .all()
            )
            if self._guard is not None:
                return self._guarded(s, model, rows, None)
            return [self._load(s, m, v) for v in rows]

    def list_models(self) -> list[tuple[Model, list[ModelVersion]]]:
        with self._session() as s:
            names = (
                s.execute(select(col(ModelRow.name)).order_by(col(ModelRow.name))).scalars().all()
            )
        if self._guard is not None:
            self._guard.model_names(names)
            out = []
            for n in names:
                versions = self.list_versions(n)
                if versions:
                    out.append((versions[-1].model, versions))
            return out
        return [(self.get_model(n), self.list_versions(n)) for n in names]

    def find_version_in_stage(self, model: str, stage: str) -> ModelVersion | None:
        if self._guard is not None:
            # from every version's logged stage, not from a stage column one could rewrite
            try:
                found = [v for v in self.list_versions(model) if v.stage == stage]
            except NotFoundError:
                return None
            return found[-1] if found else None
        with self._session() as s:
            m = s.get(ModelRow, model)
            if m is None:
                return None
            v = (
                s.execute(
                    select(VersionRow)
                    .where(col(VersionRow.model_name) == model, col(VersionRow.stage) == stage)
                    .order_by(col(VersionRow.id).desc())
                    .limit(1)
                )
                .scalars()
                .first()
            )
            return None if v is None else self._load(s, m, v)

    # -- evaluations ------------------------------------------------------------------------
    def add_evaluation(
        self,
        version: ModelVersion,
        stage: str,
        verdict: str,
        evaluated_at: datetime,
        policy_digests: dict[str, Any],
        result: dict[str, Any],
        log_index: int | None,
        *,
        conn: Connection | None = None,
    ) -> int:
        with self._session(write=True, outer=conn) as s:
            _, v = self._version_rows(s, version.model.name, version.version)
            assert v.id is not None
            row = EvaluationRow(
                version_id=v.id,
                stage=stage,
                verdict=verdict,
                evaluated_at=evaluated_at,
                policy_digests=policy_digests,
                result=result,
                log_index=log_index,
                entry_sha256=entry_sha256(s, log_index),
            )
            s.add(row)
            s.flush()
            assert row.id is not None
            return row.id

    def evaluations(self, model: str, version: str) -> list[dict[str, Any]]:
        with self._session() as s:
            _, v = self._version_rows(s, model, version)
            rows = (
                s.execute(
                    select(EvaluationRow)
                    .where(col(EvaluationRow.version_id) == v.id)
                    .order_by(col(EvaluationRow.id))
                )
                .scalars()
                .all()
            )
            if self._guard is not None:
                self._guard.evaluations(model, version, rows)
            return [
                {
                    "id": r.id,
                    "stage": r.stage,
                    "verdict": r.verdict,
                    "evaluated_at": _aware(r.evaluated_at).isoformat(),
                    "policy_digests": r.policy_digests,
                    "result": r.result,
                    "log_index": r.log_index,
                }
                for r in rows
            ]

    # -- transitions ------------------------------------------------------------------------
    def apply_transitions(self, records: Sequence[TransitionRecord]) -> None:
        """Record transitions and move stages, all in one transaction."""
        with self._session(write=True) as s:
            self._apply_transitions(s, records)

    def apply_transitions_in(self, conn: Connection, records: Sequence[TransitionRecord]) -> None:
        """:meth:`apply_transitions` inside the caller's transaction on ``conn`` (commits
        nothing), so the transitions' log entries and these rows commit together or not at all."""
        with self._session(write=True, outer=conn) as s:
            self._apply_transitions(s, records)

    def _apply_transitions(self, s: Session, records: Sequence[TransitionRecord]) -> None:
        for r in records:
            if r.kind != "denied":
                _, v = self._version_rows(s, r.model, r.version)
                res = s.execute(
                    update(VersionRow)
                    .where(
                        col(VersionRow.id) == v.id,
                        col(VersionRow.stage) == (r.from_stage or v.stage),
                    )
                    .values(stage=r.to_stage)
                )
                if getattr(res, "rowcount", 1) != 1:
                    raise ConflictError(
                        f"{r.model}@{r.version} is no longer in stage {r.from_stage!r}"
                    )
            s.add(
                TransitionRow(
                    model_name=r.model,
                    version=r.version,
                    from_stage=r.from_stage,
                    to_stage=r.to_stage,
                    actor=r.actor,
                    at=r.at,
                    kind=r.kind,
                    reason=r.reason,
                    details=r.details,
                    log_index=r.log_index,
                    entry_sha256=entry_sha256(s, r.log_index),
                )
            )

    def transitions(self, model: str | None = None) -> list[TransitionRecord]:
        with self._session() as s:
            q = select(TransitionRow).order_by(col(TransitionRow.at), col(TransitionRow.id))
            if model is not None:
                q = q.where(col(TransitionRow.model_name) == model)
            rows = s.execute(q).scalars().all()
            if self._guard is not None:
                self._guard.transitions(model, rows)
            return [
                TransitionRecord(
                    model=r.model_name,
                    version=r.version,
                    from_stage=r.from_stage,
                    to_stage=r.to_stage,
                    actor=r.actor,
                    at=_aware(r.at),
                    kind=r.kind,
                    reason=r.reason,
                    details=dict(r.details),
                    log_index=r.log_index,
                )
                for r in rows
            ]

    def referenced_evidence(self, digests: Iterable[str]) -> set[str]:
        """Which of ``digests`` an evidence row (of any version) references."""
        wanted = sorted(set(digests))
        if not wanted:
            return set()
        with self._session() as s:
            q = select(col(EvidenceRow.sha256)).where(col(EvidenceRow.sha256).in_(wanted))
            return set(s.execute(q.distinct()).scalars().all())

    def count_rows(self) -> dict[str, int]:
        """Row counts per table (used by tests to prove nothing was written)."""
        with self._session() as s:
            return {
                t.__tablename__: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (ModelRow, VersionRow, EvidenceRow, EvaluationRow, TransitionRow)
            }

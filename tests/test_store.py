"""The registry store on SQLite and PostgreSQL (real servers), and its in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ordinance.errors import ConflictError, InfrastructureError, NotFoundError
from ordinance.model import Evidence, Identity, Lineage, Model, ModelVersion
from ordinance.store import InMemoryRegistry, SqlRegistry, TransitionRecord, make_engine
from ordinance.store.migrate import current_revision, head_revision, upgrade

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _version(v: str, stage: str = "development", n_evidence: int = 2) -> ModelVersion:
    return ModelVersion(
        model=Model(name="m", owner="o", risk_tier="high", tags=("a", "b")),
        version=v,
        stage=stage,
        author="alice",
        created_at=T0,
        registered_at=T0 + timedelta(minutes=int(v.split(".")[0])),
        identity=Identity(sha256=f"{int(v.split('.')[0]):064x}", resources=1, name="m"),
        lineage=Lineage(training_run="runs:/1", environment={"python": "3.11"}),
        metrics={"auc": 0.8},
        documentation={"intended_use": "x"},
        evidence=tuple(
            Evidence(
                kind="datasheet",
                name=f"d{i}.md",
                sha256=f"{i:064x}",
                size=i,
                created_at=T0,
                attributes={"i": i},
            )
            for i in range(n_evidence)
        ),
        manifest_sha256="f" * 64,
    )


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[object]:
    from backends import fresh_pg_schema, pg_url_or_skip

    if request.param == "memory":
        yield InMemoryRegistry()
        return
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'r.db'}"])
    else:
        urls = fresh_pg_schema(pg_url_or_skip())
    db = next(urls)
    engine = make_engine(db)
    upgrade(engine)
    yield SqlRegistry(engine)
    engine.dispose()
    for _ in urls:  # finish the generator: drops the PostgreSQL schema
        pass


def test_backend_is_real(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        before, after = upgrade(engine)
        assert (before, after) == (None, head_revision())
        assert upgrade(engine) == (head_revision(), head_revision())  # idempotent
        with engine.connect() as c:
            name = c.dialect.name
        assert name == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
        print(f"storage backend under test: {name}")
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import ordinance.store._tables  # noqa: F401  (registers the tables)

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            registry_tables = {t for t in SQLModel.metadata.tables if t.startswith("ordinance_")}
            diff = [
                d
                for d in compare_metadata(ctx, SQLModel.metadata)
                if not (d[0] == "remove_table" and d[1].name not in registry_tables)
                and not (
                    isinstance(d, tuple)
                    and d[0] in ("remove_index",)
                    and d[1].table.name not in registry_tables
                )
            ]
        assert diff == [], diff
    finally:
        engine.dispose()


def test_add_get_list(store: object) -> None:
    s = store  # type: ignore[assignment]
    s.add_version(_version("1.0.0"))
    s.add_version(_version("2.0.0", n_evidence=0))
    got = s.get_version("m", "1.0.0")
    assert got == _version("1.0.0")
    assert s.get_version("m").version == "2.0.0"  # latest
    assert [v.version for v in s.list_versions("m")] == ["1.0.0", "2.0.0"]
    [(model, versions)] = s.list_models()
    assert model.name == "m" and len(versions) == 2
    with pytest.raises(NotFoundError):
        s.get_version("m", "9.9.9")
    with pytest.raises(NotFoundError):
        s.get_version("nope")
    with pytest.raises(ConflictError):
        s.add_version(_version("1.0.0"))


def test_transitions_are_atomic(store: object) -> None:
    s = store  # type: ignore[assignment]
    s.add_version(_version("1.0.0", stage="production"))
    s.add_version(_version("2.0.0", stage="staging"))
    at = T0 + timedelta(days=1)
    s.apply_transitions(
        [
            TransitionRecord("m", "1.0.0", "production", "archived", "bob", at, "demote"),
            TransitionRecord("m", "2.0.0", "staging", "production", "bob", at, "promote"),
        ]
    )
    assert s.find_version_in_stage("m", "production").version == "2.0.0"
    # A batch whose second step is stale changes nothing at all.
    with pytest.raises(ConflictError):
        s.apply_transitions(
            [
                TransitionRecord("m", "2.0.0", "production", "archived", "bob", at, "demote"),
                TransitionRecord("m", "1.0.0", "staging", "production", "bob", at, "promote"),
            ]
        )
    assert s.get_version("m", "2.0.0").stage == "production"
    assert [t.kind for t in s.transitions("m")] == ["demote", "promote"]


def test_evaluations_round_trip(store: object) -> None:
    s = store  # type: ignore[assignment]
    v = _version("1.0.0")
    s.add_version(v)
    s.add_evaluation(v, "staging", "fail", T0, {"baseline": "a" * 64}, {"verdict": "fail"}, 3)
    [e] = s.evaluations("m", "1.0.0")
    assert (
        e["verdict"] == "fail"
        and e["log_index"] == 3
        and e["policy_digests"] == {"baseline": "a" * 64}
    )


def test_missing_schema_is_an_infrastructure_error(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(InfrastructureError, match="ordinance db upgrade"):
            SqlRegistry(engine).get_version("m")
    finally:
        engine.dispose()


def test_unreachable_database_is_exit_3() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(InfrastructureError) as ei:
        current_revision(engine)
    assert ei.value.exit_code == 3


def test_constructors_do_no_io(tmp_path) -> None:
    db = tmp_path / "never.db"
    engine = make_engine(f"sqlite:///{db}")
    SqlRegistry(engine)
    assert not db.exists()

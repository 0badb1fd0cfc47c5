"""Facts are per version: a later registration never changes an earlier version (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli, small_manifest
from ordinance.workspace import init_workspace


def test_a_new_version_does_not_change_earlier_versions(tmp_path: Path, db_url: str) -> None:
    ws = init_workspace(tmp_path / ".ordinance", db_url=db_url)
    try:
        ws.register(small_manifest(tmp_path / "v1", version="1.0.0"))
        m2 = small_manifest(
            tmp_path / "v2",
            version="2.0.0",
            author="mallory@example.com",
            model={"name": "toy", "owner": "team-b", "risk_tier": "minimal", "tags": []},
        )
        ws.register(m2)
        registry = ws.registry()
        v1 = registry.get_version("toy", "1.0.0")
        v2 = registry.get_version("toy", "2.0.0")
        assert (v1.model.risk_tier, v1.model.owner, v1.author) == (
            "high",
            "team-a",
            "alice@example.com",
        )
        assert v1.model.tags == ("t",)
        assert (v2.model.risk_tier, v2.model.owner, v2.author) == (
            "minimal",
            "team-b",
            "mallory@example.com",
        )
        assert [v.model.risk_tier for v in registry.list_versions("toy")] == ["high", "minimal"]
        # the model row shows the newest registration's facts
        assert registry.get_model("toy").risk_tier == "minimal"
    finally:
        ws.close()


def test_show_reports_each_versions_own_tier(tmp_path: Path) -> None:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    assert run_cli("--home", home, "register", small_manifest(tmp_path / "v1")).code == 0
    m2 = small_manifest(
        tmp_path / "v2",
        version="2.0.0",
        model={"name": "toy", "owner": "team-a", "risk_tier": "minimal", "tags": []},
    )
    assert run_cli("--home", home, "register", m2).code == 0
    r = run_cli("--home", home, "show", "toy@1.0.0", "--format", "json")
    assert r.code == 0 and r.json()["model_info"]["risk_tier"] == "high"


def test_upgrade_gives_existing_versions_their_models_facts(tmp_path: Path, db_url: str) -> None:
    """Revision 0006 copies the model row's facts onto versions registered before it."""
    from alembic import command
    from sqlalchemy import text

    from ordinance.store._engine import make_engine
    from ordinance.store.migrate import _config, upgrade

    engine = make_engine(db_url)
    try:
        cfg = _config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ordinance_model (name, owner, risk_tier, description, tags, "
                    "created_at) VALUES ('old', 'team-a', 'high', 'd', '[\"t\"]', :t)"
                ),
                {"t": "2026-01-01 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO ordinance_version (model_name, version, stage, author, created_at,"
                    " registered_at, identity_sha256, identity, lineage, metrics, documentation,"
                    " manifest_sha256) VALUES ('old', '1.0.0', 'development', 'a', :t, :t, :d,"
                    " '{}', '{}', '{}', '{}', :d)"
                ),
                {"t": "2026-01-01 00:00:00", "d": "0" * 64},
            )
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT owner, risk_tier, description, tags FROM ordinance_version")
            ).one()
        tags = row[3] if isinstance(row[3], list) else json.loads(row[3])
        assert (row[0], row[1], row[2], tags) == ("team-a", "high", "d", ["t"])
    finally:
        engine.dispose()

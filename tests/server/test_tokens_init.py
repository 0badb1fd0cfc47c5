"""API tokens (hashed, expiring, revocable), and init on a team database."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from helpers import run_cli
from ordinance.errors import AuthError, InputError
from ordinance.tokens import TokenStore, tokens_t
from ordinance.workspace import init_workspace

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_tokens_are_hashed_expire_and_revoke(tmp_path: Path, db_url: str) -> None:
    with init_workspace(tmp_path / "h", db_url=db_url) as ws:
        store = TokenStore(ws.engine())
        plain, tok = store.create("ci", "ci", expires_in=timedelta(hours=1), now=T0)
        with ws.engine().connect() as conn:
            rows = conn.execute(select(tokens_t)).all()
        assert len(rows) == 1
        secret = plain.rsplit("_", 1)[1]
        assert all(secret not in str(v) for v in rows[0])  # only the SHA-256 is stored
        assert store.authenticate(plain, now=T0 + timedelta(minutes=59)).identity == "ci"
        with pytest.raises(AuthError, match="expired"):
            store.authenticate(plain, now=T0 + timedelta(hours=1))
        with pytest.raises(AuthError, match="invalid API token"):
            store.authenticate(plain[:-1] + ("A" if plain[-1] != "A" else "B"), now=T0)
        with pytest.raises(AuthError, match="malformed"):
            store.authenticate("hunter2", now=T0)
        plain2, tok2 = store.create("vera@example.com", "member", now=T0)
        store.revoke(tok2.token_id, now=T0 + timedelta(minutes=1))
        with pytest.raises(AuthError, match="revoked"):
            store.authenticate(plain2, now=T0 + timedelta(minutes=2))
        states = {t.token_id: t.state(T0 + timedelta(hours=2)) for t in store.list()}
        assert states == {tok.token_id: "expired", tok2.token_id: "revoked"}
        with pytest.raises(InputError):
            store.create("ci", "root")


def test_token_cli_prints_the_token_once_and_lists_without_secrets(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run_cli("--home", home, "init").code == 0
    r = run_cli("--home", home, "token", "create", "--identity", "ci", "--scope", "ci")
    assert r.code == 0 and r.out.startswith("ord_")
    listed = run_cli("--home", home, "token", "list", "--format", "json")
    assert r.out.strip().rsplit("_", 1)[1] not in listed.out
    row = json.loads(listed.out)[0]
    assert (row["identity"], row["scope"], row["state"]) == ("ci", "ci", "active")
    assert run_cli("--home", home, "token", "revoke", row["id"]).code == 0
    assert (
        json.loads(run_cli("--home", home, "token", "list", "--format", "json").out)[0]["state"]
        == "revoked"
    )


def test_second_init_on_a_database_with_a_log_refuses_to_create_a_key(
    tmp_path: Path, db_url: str
) -> None:
    first = tmp_path / "first" / ".ordinance"
    assert run_cli("--home", first, "--db", db_url, "init").code == 0
    # the log has a checkpoint once something is logged
    from helpers import small_manifest

    assert run_cli("--home", first, "register", small_manifest(tmp_path / "m")).code == 0
    second = tmp_path / "second" / ".ordinance"
    r = run_cli("--home", second, "--db", db_url, "init")
    assert r.code == 2
    assert "already holds an audit log" in r.err and "refusing to create a second log key" in r.err
    assert not (second / "keys" / "log.key").exists()


def test_init_keeps_the_database_password_out_of_config_yaml(tmp_path: Path) -> None:
    home = tmp_path / "h"
    url = "postgresql+psycopg://ordinance:s3cret-pw@127.0.0.1:1/ordinance"
    from ordinance.workspace import Workspace, _split_password

    cfg_url, password = _split_password(url)
    assert password == "s3cret-pw" and "s3cret" not in cfg_url
    # init would connect; write the files the way init does, without a database
    home.mkdir()
    from ordinance.workspace import _write_secret

    _write_secret(home / "secrets.yaml", {"db_password": password})
    (home / "config.yaml").write_text(f"ordinance: 1\ndb: {cfg_url}\n")
    assert stat.S_IMODE(os.stat(home / "secrets.yaml").st_mode) == 0o600
    assert "secrets.yaml" in (home / ".gitignore").read_text()
    ws = Workspace.open(home)
    assert ws.db_url == url
    os.environ["ORDINANCE_DB_PASSWORD"] = "from-env"
    try:
        assert Workspace.open(home).db_url.endswith("ordinance:from-env@127.0.0.1:1/ordinance")
    finally:
        del os.environ["ORDINANCE_DB_PASSWORD"]


@pytest.mark.postgres
def test_init_with_a_password_url_writes_it_only_to_secrets(tmp_path: Path) -> None:
    import psycopg

    from backends import pg_url_or_skip

    base = pg_url_or_skip()
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    role = f"ord_{os.getpid()}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}' SUPERUSER")
    try:
        url = base.replace("postgres@", f"{role}:pw-{role}@")
        # a schema of its own so that this log is the only one
        from backends import fresh_pg_schema

        for schema_url in fresh_pg_schema(url):
            home = tmp_path / "h"
            r = run_cli("--home", home, "--db", schema_url, "init")
            assert r.code == 0, r.err
            assert f"pw-{role}" not in (home / "config.yaml").read_text()
            assert f"pw-{role}" in (home / "secrets.yaml").read_text()
            assert f"pw-{role}" not in r.err
            assert run_cli("--home", home, "models").code == 0  # connects with the secret
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")

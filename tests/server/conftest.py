"""Fixtures for the server tests: a team deployment (server home, roster, tokens, people)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_support import (
    S3_ENV,
    Server,
    env,
    make_bucket,
    make_token,
    moto_server,
    write_yaml,
)

from helpers import run_cli

PROD_PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: prod-gate, version: "1"}
rules:
  - id: auc-floor
    type: metrics.threshold
    params: {metric: auc, min: 0.75}
  - id: two-approvals
    type: approvals.required
    params:
      roles: {model-validator: 1, risk-officer: 1}
      separation_of_duties: true
      max_age_days: 90
"""

STAGING_PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: staging-gate, version: "1"}
rules:
  - id: auc-floor
    type: metrics.threshold
    params: {metric: auc, min: 0.5}
"""


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@dataclass
class Person:
    id: str
    home: Path
    key: Path
    vkey: str
    token: str = ""


@dataclass
class Team:
    """A server and the people around it; each person has their own home directory."""

    root: Path
    server: Server
    ci_token: str
    admin_token: str
    vera: Person  # model-validator
    rita: Person  # risk-officer
    alice: Person  # author of the versions, also a model-validator

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def home(self) -> Path:
        return self.server.home


def _person(root: Path, pid: str) -> Person:
    home = root / pid.split("@")[0]
    home.mkdir(parents=True)
    key = home / "me.key"
    r = run_cli("keys", "generate", "--name", pid, "--out", key)
    assert r.code == 0, r.err
    return Person(pid, home, key, r.out.strip())


def build_team(
    root: Path,
    db_url: str,
    evidence: dict[str, str] | None = None,
    *,
    policies: dict[str, list[str]] | None = None,
    server: dict[str, object] | None = None,
) -> Team:
    """Initialize a server home on ``db_url`` (config with packs, evidence backend), apply a
    roster and create tokens; the server is not started."""
    home = root / "server" / ".ordinance"
    packs = root / "server" / "packs"
    packs.mkdir(parents=True)
    (packs / "prod.yaml").write_text(PROD_PACK)
    (packs / "staging.yaml").write_text(STAGING_PACK)
    args: list[str | Path] = [
        "--home",
        home,
        "--db",
        db_url,
        "init",
        "--origin",
        "ordinance.test/team",
    ]
    r = run_cli(*args)
    assert r.code == 0, r.err
    import yaml

    cfg = yaml.safe_load((home / "config.yaml").read_text())
    cfg["policies"] = {
        "staging": [str(packs / "staging.yaml")],
        "production": [str(packs / "prod.yaml")],
    }
    if policies is not None:
        cfg["policies"] = policies
    if evidence:
        cfg["evidence"] = evidence
    if server:
        cfg["server"] = server
    write_yaml(home / "config.yaml", cfg)
    vera, rita, alice = (
        _person(root, p) for p in ("vera@example.com", "rita@example.com", "alice@example.com")
    )
    roster = {
        "apiVersion": "ordinance/v1",
        "kind": "Roster",
        "members": [
            {"id": vera.id, "roles": ["model-validator"], "keys": [vera.vkey]},
            {"id": rita.id, "roles": ["risk-officer"], "keys": [rita.vkey]},
            {"id": alice.id, "roles": ["model-validator", "ml-engineer"], "keys": [alice.vkey]},
        ],
    }
    r = run_cli(
        "--home",
        home,
        "roster",
        "apply",
        write_yaml(root / "roster.yaml", roster),
        "--actor",
        "admin",
    )
    assert r.code == 0, r.err
    for p in (vera, rita, alice):
        p.token = make_token(home, p.id, "member")
    server = Server(home, env=dict(S3_ENV))
    return Team(
        root,
        server,
        ci_token=make_token(home, "ci", "ci"),
        admin_token=make_token(home, "admin", "admin"),
        vera=vera,
        rita=rita,
        alice=alice,
    )


@pytest.fixture
def team(tmp_path: Path, db_url: str) -> Iterator[Team]:
    """A started server on each backend (SQLite, PostgreSQL), local evidence."""
    t = build_team(tmp_path, db_url)
    t.server.start()
    try:
        yield t
    finally:
        t.server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[dict[str, str]]:
    name = f"ev-{uuid.uuid4().hex[:12]}"
    with env(**S3_ENV):
        make_bucket(s3_endpoint, name)
        yield {"backend": "s3", "bucket": name, "endpoint_url": s3_endpoint, "prefix": "team"}


def pg_db_url() -> Iterator[str]:
    from backends import fresh_pg_schema, pg_url_or_skip

    yield from fresh_pg_schema(pg_url_or_skip())


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_db_url()


def as_json(text: str) -> object:
    return json.loads(text)

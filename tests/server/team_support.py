"""A team deployment for the server tests: server home, roster, tokens, people."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server_support import (
    S3_ENV,
    Server,
    make_token,
    write_yaml,
)

from helpers import run_cli, write_packs


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
    default_policies = write_packs(root / "server" / "packs")
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
    cfg["policies"] = default_policies if policies is None else policies
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

"""CLI consistency (issue 12): every command takes ``--format json`` and prints parseable JSON,
``--out`` is the one name for an output file, and a write names an explicit actor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from helpers import run_cli, small_manifest
from ordinance._cli import cli


def _commands() -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(cli)

    def walk(cmd: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, (*path, name))
        else:
            yield " ".join(path), cmd

    yield from walk(cli, ())


COMMANDS = dict(_commands())


def _option(cmd: click.Command, flag: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and flag in p.opts), None)


def test_the_walk_finds_every_command() -> None:
    assert len(COMMANDS) >= 45
    assert {"init", "db upgrade", "keys generate", "log prove", "policy explain", "serve"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_format_json(name: str) -> None:
    opt = _option(COMMANDS[name], "--format")
    assert opt is not None, f"`ordinance {name}` has no --format"
    assert isinstance(opt.type, click.Choice) and "json" in opt.type.choices, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_one_output_option_name(name: str) -> None:
    """``--out`` writes a file; nothing else is spelled ``--output``/``--output-file``."""
    for p in COMMANDS[name].params:
        if isinstance(p, click.Option):
            assert not any(o.startswith("--output") for o in p.opts), (name, p.opts)


WRITERS = [
    "promote",
    "rollback",
    "archive",
    "roster apply",
    "evidence add",
    "keys rotate",
    "explain",
]


@pytest.mark.parametrize("name", WRITERS)
def test_writers_take_an_actor(name: str) -> None:
    opt = _option(COMMANDS[name], "--actor")
    assert opt is not None and opt.default in (None, click.core.UNSET), name  # never guessed


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    home = root / ".ordinance"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORDINANCE_ACTOR", "setup@example.com")
        r = run_cli("init", str(root), "--format", "json")
        assert r.code == 0, r.err
        data = json.loads(r.out)
        assert set(data) == {"home", "database", "origin", "vkey"}
        assert data["home"] == str(home)
        m = small_manifest(root / "m")
        assert run_cli("--home", home, "register", m).code == 0
    return home


def _json(*args: str | Path) -> object:
    r = run_cli(*args, "--format", "json")
    assert r.code in (0, 1), (args, r.err)
    return json.loads(r.out)


def test_representative_invocations_print_json(workspace: Path, tmp_path: Path) -> None:
    home = ("--home", workspace)
    assert set(_json(*home, "db", "upgrade")) == {"before", "after"}  # type: ignore[arg-type]
    key = tmp_path / "k.key"
    gen = _json("keys", "generate", "--name", "vera@example.com", "--out", key)
    assert set(gen) == {"path", "vkey_path", "name", "type", "vkey", "encrypted"}  # type: ignore[arg-type]
    assert _json("keys", "show", key)["name"] == "vera@example.com"  # type: ignore[index]
    explained = _json("policy", "explain", "ordinance:baseline")
    assert explained["name"] == "baseline" and explained["rules"]  # type: ignore[index]
    assert _json("policy", "list")
    assert isinstance(_json(*home, "models"), list)
    assert _json(*home, "show", "toy@1.0.0")["version"] == "1.0.0"  # type: ignore[index]
    assert "verdict" in _json(*home, "check", "toy@1.0.0", "--stage", "staging", "--dry-run")  # type: ignore[operator]
    proof = _json(*home, "log", "prove", "0")
    assert proof["index"] == 0 and "proof" in proof  # type: ignore[index]
    assert _json(*home, "log", "checkpoint")
    assert _json(*home, "history", "toy") is not None


def _log_size(home: Path) -> int:
    r = run_cli("--home", home, "log", "checkpoint", "--format", "json")
    assert r.code == 0, r.err
    return int(json.loads(r.out)["size"])


@pytest.mark.parametrize(
    "argv",
    [
        ("promote", "toy@1.0.0", "--to", "staging"),
        ("archive", "toy@1.0.0"),
        ("rollback", "toy", "--to", "1.0.0"),
        ("keys", "rotate"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_write_without_an_actor_is_refused(
    workspace: Path, argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDINANCE_ACTOR", raising=False)
    monkeypatch.setenv("USER", "someone")  # not an identity Ordinance guesses from
    before = _log_size(workspace)
    r = run_cli("--home", workspace, *argv)
    assert r.code == 2, (r.out, r.err)
    assert "--actor" in r.err and "ORDINANCE_ACTOR" in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    assert _log_size(workspace) == before  # nothing written


def test_the_actor_is_recorded_as_given(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDINANCE_ACTOR", raising=False)
    r = run_cli(
        "--home", workspace, "promote", "toy@1.0.0", "--to", "staging",
        "--actor", "ci@example.com", "--format", "json",
    )  # fmt: skip
    assert r.code in (0, 1), r.err
    hist = json.loads(run_cli("--home", workspace, "history", "toy", "--format", "json").out)
    actors = {e["actor"] for e in hist["events"]}
    assert "ci@example.com" in actors and "unknown" not in actors

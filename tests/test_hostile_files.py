"""Hostile files: path escapes, symlinks, FIFOs, devices, loops, alias bombs, oversized files.

Each one, in a manifest, a policy pack, a waiver file, a roster, the workspace config or an
audit bundle, is refused with exit 2 and one line, at once (never read or waited on), with
nothing written and no lock left held. How long each refusal takes is printed by
``benchmarks/bench_hostile_inputs.py``; here a watchdog only turns a hang into a failure.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from helpers import Result, Templates, run_cli, small_manifest

# 2.9 KB: nine levels of 75 aliases each, 75**9 (7.5e16) strings once expanded
BOMB = (
    "l0: &l0 ["
    + ",".join(["lol"] * 75)
    + "]\n"
    + "".join(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 75) + "]\n" for i in range(1, 9))
)
BIG = 9 * 1024 * 1024  # over the 8 MiB document limit
HANG_GUARD = 20  # seconds: a refusal takes milliseconds; this only stops a hang


@pytest.fixture
def watchdog() -> Iterator[None]:
    """Fail a test that blocks (on a FIFO, /dev/zero, an alias bomb) instead of hanging CI."""

    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"blocked for more than {HANG_GUARD} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_GUARD)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _init(root: Path) -> None:
    assert run_cli("--home", root / "ws" / ".ordinance", "init").code == 0


@pytest.fixture
def home(tmp_path: Path, watchdog: None, templates: Templates) -> Path:
    """A fresh ``ordinance init`` workspace (a copy of one made per session)."""
    return templates.clone("hostile-files-init", _init, tmp_path) / "ws" / ".ordinance"


def _snapshot(home: Path) -> dict[str, int]:
    """Every file under the workspace with its size (the database included)."""
    return {
        str(p.relative_to(home)): p.stat().st_size
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal", ".lock"))
    }


def _no_lock_held(home: Path) -> None:
    db = sqlite3.connect(home / "ordinance.db", timeout=0.2)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.rollback()
    finally:
        db.close()


def _refused(home: Path, *args: str | Path, needle: str, lines: int = 1) -> Result:
    before = _snapshot(home)
    t0 = time.monotonic()
    r = run_cli("--home", home, *args)
    elapsed = time.monotonic() - t0
    assert r.code == 2, (r.code, r.err)
    assert r.err.count("\n") == lines and "Traceback" not in r.err, r.err
    assert needle in r.err, r.err
    assert elapsed < HANG_GUARD
    assert _snapshot(home) == before
    _no_lock_held(home)
    return r


# --------------------------------------------------------------------------- manifests


def _edit(path: Path, change: Callable[[dict], None]) -> Path:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _evidence_path(value: str) -> Callable[[dict], None]:
    return lambda d: d["evidence"][0].update(path=value)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda d, home: _evidence_path("/etc/passwd"), "evidence.0.path: must be a path relative"),
        (
            lambda d, home: _evidence_path("../outside.csv"),
            "evidence.0.path: must not contain '..'",
        ),
        (
            lambda d, home: (
                os.symlink(home / "keys" / "log.key", d / "key.csv"),
                _evidence_path("key.csv"),
            )[1],
            "evidence.0.path: a symbolic link leads outside the manifest's directory: key.csv",
        ),
        (
            lambda d, home: (os.mkfifo(d / "fifo.csv"), _evidence_path("fifo.csv"))[1],
            "evidence.0.path: not a regular file (a FIFO): fifo.csv",
        ),
        (
            lambda d, home: (os.symlink("/dev/zero", d / "zero.csv"), _evidence_path("zero.csv"))[
                1
            ],
            "a symbolic link leads outside",
        ),
        (
            lambda d, home: (
                os.symlink(d / "b.csv", d / "a.csv"),
                os.symlink(d / "a.csv", d / "b.csv"),
                _evidence_path("a.csv"),
            )[2],
            "evidence.0.path: symbolic link loop: a.csv",
        ),
        (
            lambda d, home: (
                os.symlink(home / "keys" / "log.key", d / "model" / "extra.bin"),
                lambda doc: None,
            )[1],
            "artifacts.path: a symbolic link leads outside the manifest's directory: model/extra.bin",
        ),
        (
            lambda d, home: (os.mkfifo(d / "model" / "pipe"), lambda doc: None)[1],
            "artifacts.path: not a regular file (a FIFO): model/pipe",
        ),
        (
            lambda d, home: (os.symlink(d / "model", d / "model" / "again"), lambda doc: None)[1],
            "artifacts.path: symbolic link loop: model/again",
        ),
        (
            lambda d, home: lambda doc: doc["lineage"]["datasets"][0].update(path="/etc/hostname"),
            "lineage.datasets.0.path: must be a path relative",
        ),
        (
            lambda d, home: lambda doc: doc["artifacts"].update(path=str(home / "keys")),
            "artifacts.path: must be a path relative",
        ),
    ],
    ids=[
        "absolute",
        "dotdot",
        "symlink-to-log-key",
        "fifo",
        "dev-zero",
        "symlink-loop",
        "artifact-symlink-out",
        "artifact-fifo",
        "artifact-dir-loop",
        "dataset-absolute",
        "artifacts-absolute",
    ],
)
def test_manifest_references_are_confined(
    home: Path, tmp_path: Path, setup: Callable[[Path, Path], Callable[[dict], None]], needle: str
) -> None:
    m = small_manifest(tmp_path / "m")
    _edit(m, setup(m.parent, home))
    r = _refused(home, "register", m, needle=needle)
    assert "root:" not in r.err


def test_devices_and_fifos_are_refused_without_reading(tmp_path: Path) -> None:
    from ordinance._files import UnsafeFileError, open_regular, read_limited

    with pytest.raises(UnsafeFileError, match=r"not a regular file \(a device\)"):
        read_limited("/dev/zero")
    os.mkfifo(tmp_path / "p")  # no writer: a blocking open would wait forever
    with pytest.raises(UnsafeFileError, match=r"not a regular file \(a FIFO\)"):
        open_regular(tmp_path / "p")
    with pytest.raises(UnsafeFileError, match="is a directory"):
        open_regular(tmp_path)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_text(BOMB), "aliases expand the document past"),
        (lambda p: p.write_text("a: &a [*a]\n"), "recursive alias"),
        (lambda p: p.write_text("x: " * 300 + "1\n"), "invalid YAML"),
        (lambda p: p.write_text("[" * 1000 + "]" * 1000), "nesting deeper than"),
        (lambda p: p.write_bytes(b"# pad\n" * (BIG // 6)), "too large"),
        (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
        (lambda p: os.symlink("/dev/zero", p), "not a regular file (a device)"),
        (lambda p: os.symlink(p, p), "symbolic link loop"),
        (lambda p: p.write_bytes(b"\x00\xff\xfe binary"), "not UTF-8"),
    ],
    ids=[
        "alias-bomb",
        "recursive",
        "junk",
        "deep",
        "oversized",
        "fifo",
        "dev-zero",
        "loop",
        "binary",
    ],
)
def test_hostile_manifest_files(
    home: Path, tmp_path: Path, make: Callable[[Path], None], needle: str
) -> None:
    p = tmp_path / "manifest.yaml"
    make(p)
    _refused(home, "register", p, needle=needle)


def test_the_alias_bomb_is_small() -> None:
    assert 2500 < len(BOMB) < 3200


# --------------------------------------------------------------------------- policies, waivers


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_text(BOMB), "aliases expand the document past"),
        (lambda p: p.write_bytes(b"# pad\n" * (BIG // 6)), "too large"),
        (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
        (lambda p: os.symlink("/dev/zero", p), "not a regular file (a device)"),
        (lambda p: os.symlink(p, p), "symbolic link loop"),
    ],
    ids=["alias-bomb", "oversized", "fifo", "dev-zero", "loop"],
)
@pytest.mark.parametrize("where", ["policy", "waivers", "extends", "lint"])
def test_hostile_policy_and_waiver_files(
    home: Path, tmp_path: Path, make: Callable[[Path], None], needle: str, where: str
) -> None:
    assert run_cli("--home", home, "register", small_manifest(tmp_path / "m")).code == 0
    bad = tmp_path / "bad.yaml"
    make(bad)
    if where == "policy":
        args: tuple[str | Path, ...] = ("check", "toy@1.0.0", "--stage", "staging", "--policy", bad)
    elif where == "waivers":
        args = ("check", "toy@1.0.0", "--stage", "staging", "--waivers", bad)
    elif where == "extends":
        pack = tmp_path / "pack.yaml"
        pack.write_text(
            "apiVersion: ordinance/v1\nkind: PolicyPack\nmetadata: {name: p}\n"
            "extends: [bad.yaml]\nrules: []\n"
        )
        args = ("check", "toy@1.0.0", "--stage", "staging", "--policy", pack)
    else:
        args = ("policy", "lint", bad)
    if where == "waivers" and "aliases" in needle:
        needle = "not a signed waiver"  # --waivers takes signed JSON envelopes, not YAML
    # lint reports each file, then a summary line
    _refused(home, *args, needle=needle, lines=2 if where == "lint" else 1)


def test_extends_never_echoes_the_file(home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/sh\n")
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "apiVersion: ordinance/v1\nkind: PolicyPack\nmetadata: {name: p}\n"
        f"extends: [{secret}]\nrules: []\n"
    )
    r = run_cli("--home", home, "policy", "lint", pack)
    assert r.code == 2
    assert "root" not in r.err.replace(str(tmp_path), "") and "bash" not in r.err


def test_hostile_policy_in_the_config_fails_before_any_lock(home: Path, tmp_path: Path) -> None:
    assert run_cli("--home", home, "register", small_manifest(tmp_path / "m")).code == 0
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    cfg = home / "config.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["policies"] = {"staging": [str(bomb)]}
    cfg.write_text(yaml.safe_dump(doc))
    _refused(home, "promote", "toy@1.0.0", "--to", "staging", needle="aliases expand")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_text(BOMB), "aliases expand the document past"),
        (lambda p: (p.unlink(), os.mkfifo(p)), "not a regular file (a FIFO)"),
        (lambda p: (p.unlink(), os.symlink("/dev/zero", p)), "not a regular file (a device)"),
    ],
    ids=["alias-bomb", "fifo", "dev-zero"],
)
def test_hostile_workspace_config(home: Path, make: Callable[[Path], object], needle: str) -> None:
    make(home / "config.yaml")
    r = run_cli("--home", home, "models")
    assert r.code == 2 and needle in r.err, r.err
    _no_lock_held(home)


# --------------------------------------------------------------------------- rosters, bundles


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_text(BOMB), "aliases expand the document past"),
        (lambda p: p.write_bytes(b"# pad\n" * (BIG // 6)), "too large"),
        (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
        (lambda p: os.symlink("/dev/zero", p), "not a regular file (a device)"),
        (lambda p: os.symlink(p, p), "symbolic link loop"),
    ],
    ids=["alias-bomb", "oversized", "fifo", "dev-zero", "loop"],
)
def test_hostile_roster_files(
    home: Path, tmp_path: Path, make: Callable[[Path], None], needle: str
) -> None:
    roster = tmp_path / "roster.yaml"
    make(roster)
    _refused(home, "roster", "apply", roster, "--actor", "admin", needle=needle)


@pytest.mark.parametrize(
    "part", ["manifest.json", "entries.jsonl", "checkpoints.jsonl", "checkpoint"]
)
@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
        (lambda p: os.symlink("/dev/zero", p), "not a regular file (a device)"),
        (lambda p: os.symlink(p, p), "symbolic link loop"),
    ],
    ids=["fifo", "dev-zero", "loop"],
)
def test_hostile_bundle_files(
    home: Path, tmp_path: Path, make: Callable[[Path], None], needle: str, part: str
) -> None:
    assert run_cli("--home", home, "register", small_manifest(tmp_path / "m")).code == 0
    bundle = tmp_path / "bundle"
    assert run_cli("--home", home, "log", "export", "--out", bundle).code == 0
    vkey = home / "keys" / "log.vkey"
    (bundle / part).unlink()
    make(bundle / part)
    _refused(home, "log", "verify", "--bundle", bundle, "--vkey", vkey, needle=needle)

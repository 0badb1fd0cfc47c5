"""Secrets at rest: the log key encrypted with a passphrase; written files follow the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run_cli, small_manifest
from ordinance._files import atomic_write_bytes

ENV = "ORDINANCE_LOG_KEY_PASSPHRASE"


@pytest.fixture
def no_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def _encrypted(key: Path) -> bool:
    return b"BEGIN ENCRYPTED PRIVATE KEY" in key.read_bytes()


def test_init_encrypts_the_log_key_with_the_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_passphrase: None
) -> None:
    home = tmp_path / ".ordinance"
    monkeypatch.setenv(ENV, "correct horse battery staple")
    assert run_cli("--home", home, "init").code == 0
    key = home / "keys" / "log.key"
    assert _encrypted(key) and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"correct horse" not in key.read_bytes()
    m = small_manifest(tmp_path / "v1")
    assert run_cli("--home", home, "register", m).code == 0

    monkeypatch.delenv(ENV)
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "v2", version="2.0.0"))
    assert r.code == 2 and "encrypted" in r.err and "passphrase" in r.err, r.err
    monkeypatch.setenv(ENV, "wrong")
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "v2", version="2.0.0"))
    assert r.code == 2 and "cannot decrypt" in r.err, r.err
    monkeypatch.setenv(ENV, "correct horse battery staple")
    assert run_cli("--home", home, "log", "verify").code == 0


def test_keys_encrypt_an_existing_log_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_passphrase: None
) -> None:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    key = home / "keys" / "log.key"
    assert not _encrypted(key)
    assert run_cli("--home", home, "register", small_manifest(tmp_path / "v1")).code == 0
    vkey = (home / "keys" / "log.vkey").read_text()

    monkeypatch.setenv(ENV, "s3cret passphrase")
    r = run_cli("--home", home, "keys", "encrypt")
    assert r.code == 0, r.err
    assert _encrypted(key) and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (home / "keys" / "log.vkey").read_text() == vkey  # the same key, now encrypted
    assert not list((home / "keys").glob("*.encrypting"))
    m2 = small_manifest(tmp_path / "v2", version="2.0.0")
    assert run_cli("--home", home, "register", m2).code == 0
    monkeypatch.delenv(ENV)
    r = run_cli("--home", home, "register", small_manifest(tmp_path / "v3", version="3.0.0"))
    assert r.code == 2 and "passphrase" in r.err


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)])
def test_written_files_follow_the_umask(tmp_path: Path, umask: None, mask: int, mode: int) -> None:
    os.umask(mask)
    out = tmp_path / "report.html"
    atomic_write_bytes(out, b"<html></html>")
    assert stat.S_IMODE(out.stat().st_mode) == mode

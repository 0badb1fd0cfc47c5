"""`ordinance init / register / models / show` through the real entry point, on both backends."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from helpers import run_cli, small_manifest


def test_init_register_models_show(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / ".ordinance"
    r = run_cli("--home", home, "--db", db_url, "init")
    assert r.code == 0, r.err
    assert (home / "config.yaml").is_file()
    key = home / "keys" / "log.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    m1 = small_manifest(tmp_path / "v1", version="1.0.0")
    r = run_cli("--home", home, "--db", db_url, "register", m1, "--format", "json")
    assert r.code == 0, r.err
    reg = r.json()
    assert reg["created"] is True and reg["stage"] == "development"
    assert reg["log_index"] == 0

    # Registering the identical manifest again is a no-op; a changed one is refused.
    r = run_cli("--home", home, "--db", db_url, "register", m1, "--format", "json")
    assert r.code == 0 and r.json()["created"] is False
    m1.write_text(m1.read_text().replace("auc: 0.8", "auc: 0.9"))
    r = run_cli("--home", home, "--db", db_url, "register", m1)
    assert r.code == 2 and "already registered from a different manifest" in r.err

    m2 = small_manifest(tmp_path / "v2", version="2.0.0")
    assert run_cli("--home", home, "--db", db_url, "register", m2).code == 0

    r = run_cli("--home", home, "--db", db_url, "models", "--format", "json")
    assert r.code == 0
    [model] = r.json()
    assert model["name"] == "toy" and [v["version"] for v in model["versions"]] == [
        "1.0.0",
        "2.0.0",
    ]

    r = run_cli("--home", home, "--db", db_url, "show", "toy@1.0.0", "--format", "json")
    assert r.code == 0
    shown = r.json()
    assert shown["lineage"]["code"]["commit"] == "abc123"
    assert {e["kind"] for e in shown["evidence"]} == {"predictions", "datasheet"}
    # The stored evidence blobs are exactly the registered bytes.
    for e in shown["evidence"]:
        blob = home / "evidence" / "sha256" / e["sha256"][:2] / e["sha256"]
        assert blob.is_file() and blob.stat().st_size == e["size"]

    r = run_cli("--home", home, "--db", db_url, "show", "toy")
    assert r.code == 0 and "toy@2.0.0" in r.out

    r = run_cli("--home", home, "--db", db_url, "show", "toy@9")
    assert r.code == 2 and r.err.startswith("ordinance: error: unknown version toy@9")


def test_missing_workspace_is_exit_2(tmp_path: Path) -> None:
    r = run_cli("--home", tmp_path / "nowhere", "models")
    assert r.code == 2 and "no Ordinance workspace" in r.err


def test_unreachable_database_is_exit_3(tmp_path: Path) -> None:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    r = run_cli(
        "--home", home, "--db", "postgresql://postgres@127.0.0.1:1/x?connect_timeout=1", "models"
    )
    assert r.code == 3, r.err
    assert len(r.err.strip().splitlines()) == 1


def test_usage_error_is_exit_2(tmp_path: Path) -> None:
    r = run_cli("register")
    assert r.code == 2


def test_python_m_ordinance_and_console_script(tmp_path: Path) -> None:
    env = {**os.environ, "ORDINANCE_HOME": str(tmp_path / ".ordinance")}
    out = subprocess.run(
        [sys.executable, "-m", "ordinance", "--version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and "ordinance" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "ordinance", "models"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_python_api_registers_without_a_subprocess(tmp_path: Path) -> None:
    import ordinance

    ws = ordinance.init_workspace(tmp_path / ".ordinance")
    try:
        res = ws.register(small_manifest(tmp_path / "m"))
        assert res.created and res.version.ref == "toy@1.0.0"
        assert ws.registry().get_version("toy", "1.0.0").identity == res.version.identity
    finally:
        ws.close()

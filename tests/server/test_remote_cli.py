"""Server mode prints what a local run prints: same JSON, same text, same exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_support import remote_cli
from team_support import Team

from helpers import run_cli, small_manifest

pytestmark = [pytest.mark.slow]


def _local(team: Team, *args: str) -> tuple[int, str]:
    r = run_cli("--home", team.home, *args)
    return r.code, r.out


def _remote(team: Team, token: str, *args: str) -> tuple[int, str]:
    r = remote_cli(team.url, token, *args)
    return r.code, r.out


def test_remote_and_local_outputs_match(team: Team, tmp_path: Path) -> None:
    ci = team.ci_token
    r = remote_cli(team.url, ci, "register", small_manifest(tmp_path / "m", version="1.0.0"))
    assert r.code == 0, r.err
    r = remote_cli(
        team.url,
        ci,
        "evidence",
        "add",
        "toy@1.0.0",
        tmp_path / "m" / "datasheet.md",
        "--kind",
        "validation_report",
    )
    assert r.code == 0, r.err
    for p in (team.vera, team.rita):
        r = remote_cli(
            team.url, p.token, "approve", "toy@1.0.0", "--stage", "production", "--key", p.key
        )
        assert r.code == 0, r.err
    r = remote_cli(
        team.url,
        team.rita.token,
        "waive",
        "toy@1.0.0",
        "--rule",
        "auc-floor",
        "--justification",
        "accepted by the risk committee",
        "--expires",
        "2099-01-01",
        "--key",
        team.rita.key,
        "--format",
        "json",
    )
    assert r.code == 0, (
        r.err
    )  # a risk officer may waive; signed on her machine, checked by the server
    assert r.json()["kind"] == "waiver" and r.json()["approver"] == team.rita.id
    assert (
        run_cli(
            "--home", team.home, "promote", "toy@1.0.0", "--to", "staging", "--actor", "ci"
        ).code
        == 0
    )
    for args in (
        ("models",),
        ("models", "--format", "json"),
        ("show", "toy@1.0.0"),
        ("show", "toy@1.0.0", "--format", "json"),
        ("evidence", "list", "toy@1.0.0", "--format", "json"),
        ("history", "toy"),
        ("history", "toy", "--format", "json"),
        ("approvals", "toy@1.0.0", "--format", "json"),
        ("approvals", "toy@1.0.0"),
        ("log", "checkpoint"),
        ("show", "toy@9.9.9"),  # unknown version: exit 2 both ways
    ):
        assert _remote(team, ci, *args) == _local(team, *args), args
    # a denied promotion (no approvals for 2.0.0 and 3.0.0): exit 1 and the same decision shape
    for v in ("2.0.0", "3.0.0"):
        r = remote_cli(team.url, ci, "register", small_manifest(tmp_path / v, version=v))
        assert r.code == 0, r.err
        assert (
            run_cli(
                "--home", team.home, "promote", f"toy@{v}", "--to", "staging", "--actor", "ci"
            ).code
            == 0
        )
    remote = remote_cli(
        team.url, ci, "promote", "toy@2.0.0", "--to", "production", "--format", "json"
    )
    local = run_cli(
        "--home",
        team.home,
        "promote",
        "toy@3.0.0",
        "--to",
        "production",
        "--actor",
        "ci",
        "--format",
        "json",
    )
    assert remote.code == local.code == 1
    assert remote.json().keys() == local.json().keys()
    assert remote.json()["outcome"] == "denied" and remote.json()["actor"] == "ci"
    assert remote.err.replace("2.0.0", "X") == local.err.replace("3.0.0", "X")


def test_a_check_through_the_server_renders_every_format(team: Team, tmp_path: Path) -> None:
    r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
    assert r.code == 0, r.err
    for fmt in ("text", "json", "sarif", "junit", "github"):
        out = tmp_path / f"check.{fmt}"
        r = remote_cli(
            team.url,
            team.ci_token,
            "check",
            "toy@1.0.0",
            "--stage",
            "staging",
            "--format",
            fmt,
            "--out",
            out,
        )
        assert r.code == 0, r.err
        assert out.read_text().strip()
    r = remote_cli(
        team.url, team.ci_token, "check", "toy@1.0.0", "--stage", "staging", "--policy", "x.yaml"
    )
    assert r.code == 2 and "not taken in server mode" in r.err
    r = remote_cli(team.url, team.ci_token, "check", "toy@1.0.0", "--stage", "nowhere")
    assert r.code == 2 and "unknown stage" in r.err


def test_server_mode_refuses_admin_commands_and_missing_tokens(team: Team) -> None:
    r = remote_cli(team.url, team.ci_token, "token", "list")
    assert r.code == 2 and "not available in server mode" in r.err
    from server_support import env

    with env(ORDINANCE_URL=team.url, ORDINANCE_TOKEN=None, ORDINANCE_HOME=None):
        r = run_cli("models")
    assert r.code == 2 and "ORDINANCE_TOKEN is not" in r.err
    r = remote_cli(team.url, "ord_000000000000_" + "A" * 43, "models")
    assert r.code == 2 and "invalid API token" in r.err


def test_a_manifest_cannot_make_the_server_read_its_own_files(team: Team, tmp_path: Path) -> None:
    import base64

    import httpx
    import yaml

    m = small_manifest(tmp_path / "m")
    doc = yaml.safe_load(m.read_text())
    target = (team.home / "keys" / "log.key").resolve()
    depth = len(Path(team.home / "spool").resolve().parts) + 4
    doc["evidence"].append(
        {"kind": "datasheet", "path": "../" * depth + str(target).lstrip("/"), "name": "k"}
    )
    m.write_text(yaml.safe_dump(doc))
    from ordinance.client import Remote

    remote = Remote(team.url, team.ci_token)
    try:
        files = {
            rel: remote.upload(m.parent / rel)
            for rel in ("model/weights.bin", "preds.csv", "datasheet.md", "train.csv")
        }
    finally:
        remote.close()
    r = httpx.post(
        f"{team.url}/v1/versions",
        json={
            "manifest_name": "manifest.yaml",
            "manifest": base64.b64encode(m.read_bytes()).decode(),
            "files": files,
        },
        headers={"Authorization": f"Bearer {team.ci_token}"},
    )
    assert r.status_code == 400, r.text
    assert "not uploaded" in r.json()["error"]["message"]
    assert remote_cli(team.url, team.ci_token, "models", "--format", "json").json() == []


def test_log_reads_archive_and_rollback_through_the_server(team: Team, tmp_path: Path) -> None:
    ci = team.ci_token
    for v in ("1.0.0", "2.0.0"):
        r = remote_cli(team.url, ci, "register", small_manifest(tmp_path / v, version=v))
        assert r.code == 0, r.err
    size = int(_local(team, "log", "checkpoint")[1].splitlines()[1])
    for args in (
        ("log", "show"),
        ("log", "show", "--format", "json"),
        ("log", "show", "--model", "toy", "--format", "json"),
        ("log", "prove", "1"),
        ("log", "prove", "1", "--format", "json"),
        ("log", "prove", str(size)),  # beyond the log: the same refusal
        ("log", "consistency", "1", str(size)),
        ("log", "consistency", "2", str(size), "--format", "json"),
        ("roster", "show"),
        ("roster", "show", "--format", "json"),
        ("roster", "show", "--at", "2001-01-01"),  # before any roster: the same answer
    ):
        remote, local = remote_cli(team.url, ci, *args), run_cli("--home", team.home, *args)
        assert (remote.code, remote.out, remote.err) == (local.code, local.out, local.err), args
    assert len(remote_cli(team.url, ci, "log", "show", "--format", "json").json()) == size
    # a version never in production cannot be rolled back to: the same refusal both ways
    remote = remote_cli(team.url, ci, "rollback", "toy", "--to", "2.0.0")
    local = run_cli("--home", team.home, "rollback", "toy", "--to", "2.0.0", "--actor", "ci")
    assert remote.code == local.code != 0 and remote.err == local.err
    # archive: logged by the server with the caller's identity as the actor
    r = remote_cli(team.url, ci, "archive", "toy@1.0.0", "--format", "json")
    assert r.code == 0, r.err
    assert r.json()["actor"] == "ci" and r.json()["to_stage"] == "archived"
    shown = run_cli("--home", team.home, "show", "toy@1.0.0", "--format", "json").json()
    assert shown["stage"] == "archived"
    r = remote_cli(team.url, team.vera.token, "archive", "toy@2.0.0")
    assert r.code == 2 and "may not request promotions" in r.err


def test_commands_without_a_server_form_say_so_in_one_line(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands that act on the server's own workspace (or create one) are refused in server
    mode with one line naming the command; nothing local is opened or written."""
    monkeypatch.chdir(tmp_path)
    roster = tmp_path / "roster.yaml"
    roster.write_text("apiVersion: ordinance/v1\nkind: Roster\nmembers: []\n")
    for args in (
        ("roster", "apply", str(roster), "--actor", "admin"),
        ("init",),
        ("index", "rebuild"),
        ("db", "upgrade"),
        ("keys", "rotate", "--actor", "admin"),
    ):
        r = remote_cli(team.url, team.admin_token, *args)
        name = " ".join(a for a in args if not a.startswith(("-", "/")) and a != "admin")
        assert r.code == 2, (args, r.err)
        assert r.err.strip() == (
            f"ordinance: error: {name} is not available in server mode (ORDINANCE_URL is set); "
            "run it on the server's workspace"
        ), args
    assert not (Path.cwd() / ".ordinance").exists()

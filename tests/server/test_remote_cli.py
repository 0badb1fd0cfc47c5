"""Server mode prints what a local run prints: same JSON, same text, same exit codes."""

from __future__ import annotations

from datetime import UTC, datetime
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


def test_revoke_and_decline_through_the_server(team: Team, tmp_path: Path) -> None:
    """Revocations and declines are signed on the member's machine and checked by the
    server like approvals: the approver revokes her own approval, then declines with a
    reason; a CI token can do neither; a risk officer revokes a waiver by digest; the log
    verifies deep with every one of them."""
    r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
    assert r.code == 0, r.err
    vera = team.vera
    r = remote_cli(
        team.url, vera.token, "approve", "toy@1.0.0", "--stage", "production", "--key", vera.key
    )
    assert r.code == 0, r.err
    why = ("--reason", "the validation found an unstable threshold")
    args = ("decline", "toy@1.0.0", "--stage", "production", *why, "--key", str(vera.key))
    r = remote_cli(team.url, vera.token, *args)
    assert r.code == 1 and "revoke that approval first" in r.err, r.err
    r = remote_cli(
        team.url, team.ci_token, "revoke", "toy@1.0.0", "--stage", "production", "--key", vera.key
    )
    assert r.code == 2, r.err  # a CI token never signs for anyone
    r = remote_cli(
        team.url,
        vera.token,
        "revoke",
        "toy@1.0.0",
        "--stage",
        "production",
        "--key",
        vera.key,
        "--reason",
        "re-validating",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    assert set(r.json()) == {"revoked", "log_indexes"} and len(r.json()["revoked"]) == 1
    r = remote_cli(team.url, vera.token, *args, "--format", "json")
    assert r.code == 0, r.err
    assert r.json()["kind"] == "decline" and r.json()["approver"] == vera.id
    rows = run_cli("--home", team.home, "approvals", "toy@1.0.0", "--format", "json").json()
    approval = next(row for row in rows if row["kind"] == "approval")
    assert approval["revoked"]["by"] == vera.id and approval["revoked"]["reason"] == "re-validating"
    [declined] = [row for row in rows if row["kind"] == "decline"]
    assert declined["approver"] == vera.id and declined["reason"] == why[1]
    assert [row["log_index"] for row in rows] == sorted(row["log_index"] for row in rows)
    remote_rows = remote_cli(team.url, vera.token, "approvals", "toy@1.0.0", "--format", "json")
    assert remote_rows.json() == rows
    text = remote_cli(team.url, vera.token, "approvals", "toy@1.0.0")
    assert f"decline production by {vera.id}" in text.out and f"reason: {why[1]}" in text.out
    # a second revocation of the same approval is refused, nothing written
    r = remote_cli(
        team.url,
        vera.token,
        "revoke",
        "toy@1.0.0",
        "--digest",
        approval["digest"],
        "--key",
        vera.key,
    )
    assert r.code == 1 and "already revoked" in r.err, r.err
    rita = team.rita
    r = remote_cli(
        team.url,
        rita.token,
        "waive",
        "toy@1.0.0",
        "--rule",
        "auc-floor",
        "--justification",
        "accepted by the risk committee",
        "--expires",
        "2099-01-01",
        "--key",
        rita.key,
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    waiver = r.json()["digest"]
    r = remote_cli(
        team.url, rita.token, "revoke", "toy@1.0.0", "--digest", waiver[:12], "--key", rita.key
    )
    assert r.code == 0, r.err
    assert r.out.startswith(f"revoked {waiver[:12]}")
    r = run_cli("--home", team.home, "log", "verify", "--deep")
    assert r.code == 0, r.out + r.err


def test_cards_and_reports_through_the_server(team: Team, tmp_path: Path) -> None:
    """`card` and `report` in server mode: rendered by the server from its facts with its
    templates, logged, and the bytes written here are the ones the log vouches for."""
    r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
    assert r.code == 0, r.err
    from server_support import make_token

    auditor = make_token(team.home, "audrey", "reader")
    card = tmp_path / "card.md"
    r = remote_cli(team.url, auditor, "card", "toy@1.0.0", "--out", card)
    assert r.code == 0, r.err
    assert "recorded the rendering as log entry" in r.err
    report = tmp_path / "report.html"
    r = remote_cli(team.url, auditor, "report", "toy@1.0.0", "--stage", "staging", "--out", report)
    assert r.code == 0, r.err
    vkey = (team.home / "keys" / "log.vkey").read_text().strip()
    bundle = tmp_path / "bundle"
    assert run_cli("--home", team.home, "log", "export", "--out", bundle).code == 0
    for f in (card, report):
        v = run_cli("--home", team.home, "report", "verify", f, "--format", "json")
        assert v.code == 0, v.err
        assert v.json()["model"] == "toy"
        # in server mode: the server's log fetched as a bundle, checked here with a pinned key
        v = remote_cli(team.url, auditor, "report", "verify", f, "--vkey", vkey, "--format", "json")
        assert v.code == 0, v.err
        assert v.json()["model"] == "toy"
        # offline, from an exported bundle and the key alone
        v = run_cli("report", "verify", f, "--bundle", bundle, "--vkey", vkey)
        assert v.code == 0, v.err
    r = remote_cli(team.url, auditor, "report", "verify", card)
    assert r.code == 2 and "no trusted log key" in r.err
    report.write_text(report.read_text().replace("toy", "t0y"))
    assert run_cli("--home", team.home, "report", "verify", report).code == 1
    assert remote_cli(team.url, auditor, "report", "verify", report, "--vkey", vkey).code == 1
    assert run_cli("report", "verify", report, "--bundle", bundle, "--vkey", vkey).code == 1
    r = remote_cli(team.url, auditor, "report", "portfolio", "--format", "json")
    assert r.code == 0, r.err
    assert "toy" in r.out
    r = remote_cli(team.url, auditor, "card", "toy@1.0.0", "--templates", tmp_path, "--out", card)
    assert r.code == 2 and "not available in server mode" in r.err
    r = remote_cli(team.url, auditor, "report", "toy@1.0.0", "--format", "pdf")
    assert r.code == 2 and "needs --out" in r.err


def test_roster_apply_through_the_server(team: Team, tmp_path: Path) -> None:
    """A roster admin changes the roster from her own machine: the change is signed with her
    key there and checked by the server (a roster-admin key of the roster in force, the
    caller, following the roster in force); anyone else is refused with nothing written."""
    import httpx
    import yaml

    from ordinance.approvals import Roster, roster_change_statement
    from ordinance.approvals._base import _sign_statement
    from ordinance.signing import load_signer

    rita, vera = team.rita, team.vera
    doc = yaml.safe_load((team.root / "roster.yaml").read_text())
    for m in doc["members"]:
        if m["id"] == rita.id:
            m["roles"] = ["risk-officer", "roster-admin"]
    boot = tmp_path / "boot.yaml"
    boot.write_text(yaml.safe_dump(doc))
    r = run_cli("--home", team.home, "roster", "apply", boot, "--actor", "admin")
    assert r.code == 0, r.err  # the first roster admin is named on the server's workspace
    size = run_cli("--home", team.home, "log", "checkpoint")
    g = run_cli("keys", "generate", "--name", "max@example.com", "--out", tmp_path / "max.key")
    assert g.code == 0, g.err
    max_vkey = (tmp_path / "max.vkey").read_text().strip()
    doc["members"].append({"id": "max@example.com", "roles": ["model-owner"], "keys": [max_vkey]})
    grown = tmp_path / "grown.yaml"
    grown.write_text(yaml.safe_dump(doc))
    r = remote_cli(team.url, rita.token, "roster", "apply", grown)
    assert r.code == 2 and "needs --key" in r.err
    r = remote_cli(team.url, vera.token, "roster", "apply", grown, "--key", vera.key)
    assert r.code == 1 and "roster-admin" in r.err, r.err
    r = remote_cli(team.url, team.ci_token, "roster", "apply", grown, "--key", rita.key)
    assert r.code == 2, r.err
    assert run_cli("--home", team.home, "log", "checkpoint").out == size.out  # nothing written
    r = remote_cli(
        team.url, rita.token, "roster", "apply", grown, "--key", rita.key, "--format", "json"
    )
    assert r.code == 0, r.err
    assert r.json()["changed"] and r.json()["actor"] == rita.id
    assert [m["id"] for m in r.json()["diff"]["added"]] == ["max@example.com"]
    shown = remote_cli(team.url, vera.token, "roster", "show", "--format", "json")
    assert "max@example.com" in shown.out
    # a change built on a roster that is no longer in force is refused (no lost update)
    stale = Roster.from_dict({k: v for k, v in yaml.safe_load(boot.read_text()).items()})
    stmt = roster_change_statement(
        stale,
        stale.digest,
        Roster.from_dict(yaml.safe_load(boot.read_text())),
        actor=rita.id,
        now=datetime.now(UTC),
    )
    env = _sign_statement(stmt, load_signer(rita.key))
    resp = httpx.post(
        f"{team.url}/v1/roster-changes",
        json={"envelope": env.to_dict()},
        headers={"Authorization": f"Bearer {rita.token}"},
        timeout=30,
    )
    assert resp.status_code >= 400 and "start again" in resp.text, resp.text
    r = run_cli("--home", team.home, "log", "verify", "--deep")
    assert r.code == 0, r.out + r.err


def test_explain_through_the_server(team: Team, tmp_path: Path) -> None:
    """`explain` in server mode computes here from the model file the server holds (the
    download is checked against the digest the identity covers) and attaches the artifact
    through the server, which checks it names the version's identity; the result equals a
    local run on the server's workspace."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    data["label"] = (data["a"] > 0).astype(int)
    data_path = tmp_path / "data.csv"
    data.to_csv(data_path, index=False)
    d = tmp_path / "v"
    manifest = small_manifest(d, artifacts={"path": "model.skops"})
    sio.dump(LogisticRegression().fit(data[["a", "b"]], data["label"]), d / "model.skops")
    r = remote_cli(team.url, team.ci_token, "register", manifest)
    assert r.code == 0, r.err
    args = ("explain", "toy@1.0.0", "--data", str(data_path), "--target", "label")
    r = remote_cli(
        team.url, team.ci_token, *args, "--out", str(tmp_path / "remote"), "--format", "json"
    )
    assert r.code == 0, r.err
    assert r.json()["registered"] and r.json()["log_index"] is not None
    local = run_cli(
        "--home", team.home, *args, "--out", tmp_path / "local", "--no-register", "--format", "json"
    )
    assert local.code == 0, local.err
    assert r.json()["artifact"] == local.json()["artifact"]
    shown = run_cli("--home", team.home, "show", "toy@1.0.0", "--format", "json").json()
    kinds = [e["kind"] for e in shown["evidence"]]
    assert "explainability" in kinds and "explainability_chart" in kinds
    assert run_cli("--home", team.home, "log", "verify", "--deep").code == 0


def test_publish_through_the_server(team: Team, tmp_path: Path) -> None:
    """`publish` in server mode: the server renders the catalog with its templates and logs
    every page; the client unpacks the same files a local publish writes, each one the log
    vouches for."""
    r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
    assert r.code == 0, r.err
    site = tmp_path / "site"
    r = remote_cli(team.url, team.ci_token, "publish", "--out", site, "--format", "json")
    assert r.code == 0, r.err
    remote_files = sorted(Path(f).relative_to(site).as_posix() for f in r.json()["files"])
    local = run_cli("--home", team.home, "publish", "--out", tmp_path / "local", "--format", "json")
    assert local.code == 0, local.err
    local_files = sorted(
        Path(f).relative_to(tmp_path / "local").as_posix() for f in local.json()["files"]
    )
    assert remote_files == local_files and "index.html" in remote_files
    for name in remote_files:
        v = run_cli("--home", team.home, "report", "verify", site / name)
        assert v.code == 0, (name, v.err)

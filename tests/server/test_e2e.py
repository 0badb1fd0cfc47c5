"""The team story end to end: a server on PostgreSQL with S3 (moto) evidence, CI and people
each in their own home, nobody but the server holding the log key or the database URL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from server_support import S3_ENV, env, remote_cli
from team_support import Team, build_team

from helpers import run_cli, small_manifest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _log_size(team: Team) -> int:
    r = httpx.get(f"{team.url}/v1/log/size", headers={"Authorization": f"Bearer {team.ci_token}"})
    r.raise_for_status()
    return int(r.json()["size"])


def test_team_story_on_postgres_and_s3(
    tmp_path: Path, pg_url: str, s3_bucket: dict[str, str]
) -> None:
    team = build_team(tmp_path, pg_url, evidence=s3_bucket)
    team.server.start()
    try:
        _story(team, tmp_path, s3_bucket)
    finally:
        team.server.stop()


def _story(team: Team, tmp_path: Path, bucket: dict[str, str]) -> None:
    url, ci = team.url, team.ci_token
    # -- client A: CI registers and checks, from a checkout with no Ordinance home -----------
    a = tmp_path / "runner-a"
    manifest = small_manifest(a, version="1.0.0")
    r = remote_cli(url, ci, "register", manifest, "--format", "json")
    assert r.code == 0, r.err
    reg = r.json()
    assert reg["created"] is True and reg["log_index"] is not None
    assert not (a / ".ordinance").exists()
    # identical re-registration is a no-op (a retried CI job)
    r = remote_cli(url, ci, "register", manifest, "--format", "json")
    assert r.code == 0 and r.json()["created"] is False
    # the evidence lives in the bucket, content-addressed
    import boto3

    with env(**S3_ENV):
        s3 = boto3.client("s3", endpoint_url=bucket["endpoint_url"], region_name="us-east-1")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket["bucket"])["Contents"]}
    from ordinance._canonical import sha256_file

    preds_digest = sha256_file(a / "preds.csv")[0]
    assert f"team/sha256/{preds_digest[:2]}/{preds_digest}" in keys

    r = remote_cli(url, ci, "check", "toy@1.0.0", "--stage", "staging")
    assert r.code == 0, r.err
    assert "PASS" in r.out
    r = remote_cli(url, ci, "check", "toy@1.0.0", "--stage", "production", "--format", "json")
    assert r.code == 1  # no approvals yet: blocked, with the same JSON a local check prints
    assert json.loads(r.out)["verdict"] == "fail"

    # -- client B: another home, another token, computes fairness from A's evidence ----------
    b = team.vera.home
    r = remote_cli(
        url, team.vera.token, "evidence", "get", "toy@1.0.0", "preds.csv", "--out", b / "preds.csv"
    )
    assert r.code == 0, r.err
    assert (b / "preds.csv").read_bytes() == (a / "preds.csv").read_bytes()
    fair = [
        "metrics",
        "fairness",
        "--y-true",
        "y",
        "--y-pred",
        "yhat",
        "--sensitive",
        "sex",
        "--min-group-size",
        "1",
        "--format",
        "json",
    ]
    rb = run_cli(*fair[:2], b / "preds.csv", *fair[2:])
    ra = run_cli(*fair[:2], a / "preds.csv", *fair[2:])
    assert rb.code == 0, rb.err
    assert {**rb.json(), "table": None} == {**ra.json(), "table": None}
    r = remote_cli(
        url,
        ci,
        "evidence",
        "add",
        "toy@1.0.0",
        b / "preds.csv",
        "--kind",
        "validation_report",
        "--name",
        "fairness-input.csv",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    assert r.json()["created"] is True

    # -- refusals: each a clear error, nothing written -------------------------------------
    size = _log_size(team)
    r = remote_cli(url, ci, "approve", "toy@1.0.0", "--stage", "production", "--key", team.vera.key)
    assert r.code == 2 and "may not submit approvals" in r.err, r.err
    r = remote_cli(
        url,
        team.alice.token,
        "approve",
        "toy@1.0.0",
        "--stage",
        "production",
        "--key",
        team.alice.key,
    )
    assert r.code == 2 and "separation of duties" in r.err, r.err
    r = remote_cli(
        url,
        team.rita.token,
        "approve",
        "toy@1.0.0",
        "--stage",
        "production",
        "--key",
        team.vera.key,
    )
    assert r.code == 2 and "submitted by rita@example.com" in r.err, r.err
    fake = b"not the bytes you announced"
    resp = httpx.put(
        f"{url}/v1/blobs/sha256/{preds_digest.replace(preds_digest[0], 'f' if preds_digest[0] != 'f' else 'e', 1)}",
        content=fake,
        headers={"Authorization": f"Bearer {ci}"},
    )
    assert (
        resp.status_code == 422 and "does not match its digest" in resp.json()["error"]["message"]
    )
    short = json.loads(
        run_cli(
            "--home",
            team.home,
            "token",
            "create",
            "--identity",
            "ci-short",
            "--scope",
            "ci",
            "--expires-in",
            "0.00002",
            "--format",
            "json",
        ).out
    )["token"]
    time.sleep(2.0)
    r = remote_cli(url, short, "models")
    assert r.code == 2 and "expired" in r.err, r.err
    assert _log_size(team) == size
    assert list((team.home / "spool").glob("upload.*")) == []

    # -- two approvers sign from their own homes; CI promotes ------------------------------
    for p in (team.vera, team.rita):
        r = remote_cli(
            url,
            p.token,
            "approve",
            "toy@1.0.0",
            "--stage",
            "production",
            "--key",
            p.key,
            "--format",
            "json",
        )
        assert r.code == 0, r.err
        assert r.json()["approver"] == p.id
    r = remote_cli(url, ci, "promote", "toy@1.0.0", "--to", "staging")
    assert r.code == 0, r.out + r.err
    r = remote_cli(url, ci, "promote", "toy@1.0.0", "--to", "production", "--format", "json")
    assert r.code == 0, r.out + r.err
    d = r.json()
    assert d["outcome"] == "promoted" and d["actor"] == "ci"
    r = remote_cli(url, ci, "history", "toy")
    assert r.code == 0 and "→ production  by ci" in r.out, r.out

    # -- the log verifies deeply through the server and offline from an exported bundle -------
    vkey = (team.home / "keys" / "log.vkey").read_text().strip()  # pinned out of band
    entry_keys = [x for p in (team.vera, team.rita, team.alice) for x in ("--entry-vkey", p.vkey)]
    r = remote_cli(url, team.vera.token, "log", "verify", "--deep", "--vkey", vkey, *entry_keys)
    assert r.code == 0, r.err
    assert r.out.startswith("ok: ")
    out = tmp_path / "auditor" / "bundle"
    r = remote_cli(url, team.vera.token, "log", "export", "--out", out)
    assert r.code == 0, r.err
    team.server.stop()  # offline: no server, no database
    r = run_cli("log", "verify", "--bundle", out, "--vkey", vkey, "--deep", *entry_keys)
    assert r.code == 0, r.err
    # nobody but the server home holds a key or a database URL
    for home in (a, team.vera.home, team.rita.home):
        assert not list(home.rglob("log.key"))
        assert not list(home.rglob("config.yaml"))

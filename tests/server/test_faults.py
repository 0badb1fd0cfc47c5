"""Faults and load against a real server on PostgreSQL: SIGKILL during an upload and during a
promotion, an unreachable server, and concurrent clients."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_support import remote_cli
from team_support import Team, build_team

from helpers import run_cli, small_manifest
from ordinance.client import Remote

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_team(tmp_path: Path, pg_url: str) -> Team:
    team = build_team(tmp_path, pg_url)
    team.server.start()
    yield team  # type: ignore[misc]
    team.server.stop()


def _head(team: Team, digest: str) -> int:
    return httpx.head(
        f"{team.url}/v1/blobs/sha256/{digest}", headers={"Authorization": f"Bearer {team.ci_token}"}
    ).status_code


def test_sigkill_during_an_upload_leaves_nothing_and_the_retry_completes(pg_team: Team) -> None:
    team = pg_team
    chunk = os.urandom(1 << 20)
    chunks = 48
    digest = hashlib.sha256(chunk * chunks).hexdigest()
    sent = threading.Event()
    errors: list[BaseException] = []

    def slow_body():  # type: ignore[no-untyped-def]
        for i in range(chunks):
            if i == 8:
                sent.set()
                time.sleep(30)  # the server dies while we wait
            yield chunk

    def upload() -> None:
        try:
            httpx.put(
                f"{team.url}/v1/blobs/sha256/{digest}",
                content=slow_body(),
                headers={"Authorization": f"Bearer {team.ci_token}"},
                timeout=60,
            )
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=upload, daemon=True)
    t.start()
    assert sent.wait(30)
    deadline = time.monotonic() + 10
    while not list((team.home / "spool").glob("upload.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((team.home / "spool").glob("upload.*")), "the upload never reached the spool"
    team.server.kill()
    team.server.start()
    assert list((team.home / "spool").glob("upload.*")) == []  # the half upload is gone
    assert _head(team, digest) == 404  # and was never evidence
    big = team.root / "big.bin"
    big.write_bytes(chunk * chunks)
    remote = Remote(team.url, team.ci_token)
    try:
        assert remote.upload(big) == digest  # the retried call completes
    finally:
        remote.close()
    assert _head(team, digest) == 200
    r = remote_cli(
        team.url,
        team.ci_token,
        "log",
        "verify",
        "--vkey",
        (team.home / "keys" / "log.vkey").read_text().strip(),
    )
    assert r.code == 0, r.err


def _approve_and_stage(team: Team, version: str) -> None:
    for p in (team.vera, team.rita):
        r = remote_cli(
            team.url, p.token, "approve", f"toy@{version}", "--stage", "production", "--key", p.key
        )
        assert r.code == 0, r.err
    r = remote_cli(team.url, team.ci_token, "promote", f"toy@{version}", "--to", "staging")
    assert r.code == 0, r.out + r.err


def test_sigkill_during_a_promotion_leaves_nothing_half_written(pg_team: Team, pg_url: str) -> None:
    import psycopg

    from ordinance.log.schema import APPEND_LOCK_KEY

    team = pg_team
    r = remote_cli(
        team.url, team.ci_token, "register", small_manifest(team.root / "m1", version="1.0.0")
    )
    assert r.code == 0, r.err
    _approve_and_stage(team, "1.0.0")
    before = remote_cli(team.url, team.ci_token, "history", "toy", "--format", "json").json()
    # hold the log's append lock, so the promotion blocks inside its transaction
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    dsn, _, query = plain.partition("?")
    schema = query.split("search_path%3D", 1)[1]
    with psycopg.connect(dsn, autocommit=True, options=f"-csearch_path={schema}") as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (APPEND_LOCK_KEY,))
        result: dict[str, object] = {}

        def promote() -> None:
            result["r"] = remote_cli(
                team.url, team.ci_token, "promote", "toy@1.0.0", "--to", "production"
            )

        t = threading.Thread(target=promote, daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        waiting = 0
        while time.monotonic() < deadline:
            waiting = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the promotion never reached the log append"
        team.server.kill()  # mid-transaction
        t.join(30)
        holder.execute("SELECT pg_advisory_unlock(%s)", (APPEND_LOCK_KEY,))
    r = result["r"]
    assert r.code == 3  # type: ignore[attr-defined]
    team.server.start()
    after = remote_cli(team.url, team.ci_token, "history", "toy", "--format", "json").json()
    assert after["events"] == before["events"]  # no transition without its log entry
    vkey = (team.home / "keys" / "log.vkey").read_text().strip()
    assert remote_cli(team.url, team.ci_token, "log", "verify", "--vkey", vkey).code == 0
    r = remote_cli(team.url, team.ci_token, "promote", "toy@1.0.0", "--to", "production")
    assert r.code == 0, r.out + r.err  # the retried call completes
    assert remote_cli(team.url, team.ci_token, "log", "verify", "--vkey", vkey).code == 0


def test_an_unreachable_server_is_exit_3_within_10_seconds(tmp_path: Path) -> None:
    from server_support import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    r = remote_cli(url, "ord_000000000000_" + "A" * 43, "models")
    elapsed = time.monotonic() - t0
    assert r.code == 3, r.err
    assert "cannot reach the Ordinance server" in r.err
    assert elapsed < 10


_WORKER = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[5])
from helpers import small_manifest
from ordinance.client import Remote
url, token, root, worker = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
remote = Remote(url, token)
verdicts = []
for i in range({n}):
    m = small_manifest(root / f"w{{worker}}-{{i}}", version=f"{{worker}}.{{i}}.0")
    v, created, index = remote.register(m)
    assert created, (worker, i)
    verdicts.append(remote.check("toy", v.version, "staging", "json")["verdict"])
print(json.dumps(verdicts))
"""


def test_concurrent_clients_register_and_check(pg_team: Team) -> None:
    team = pg_team
    workers, n = 8, 25
    tests_dir = str(Path(__file__).resolve().parents[1])
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER.format(n=n),
                team.url,
                team.ci_token,
                str(team.root / "clients"),
                str(w),
                tests_dir,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    # read every client to the end first: a failed assert must not leave pipes open (their
    # ResourceWarnings would fail whichever test runs next)
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert json.loads(out) == ["pass"] * n
    models = remote_cli(team.url, team.ci_token, "models", "--format", "json").json()
    versions = [v["version"] for v in models[0]["versions"]]
    assert sorted(versions) == sorted(f"{w}.{i}.0" for w in range(workers) for i in range(n))
    # every registration and every evaluation is in the log exactly once
    out = team.root / "bundle"
    assert remote_cli(team.url, team.ci_token, "log", "export", "--out", out).code == 0
    vkey = (team.home / "keys" / "log.vkey").read_text().strip()
    assert run_cli("log", "verify", "--bundle", out, "--vkey", vkey).code == 0
    from ordinance import uris

    subjects: dict[str, int] = {}
    import base64

    for line in (out / "entries.jsonl").read_text().splitlines():
        stmt = json.loads(base64.b64decode(json.loads(line)["payload"]))
        if stmt["predicateType"] == uris.REGISTRATION:
            digest = stmt["subject"][0]["digest"]["sha256"]
            subjects[digest] = subjects.get(digest, 0) + 1
    assert len(subjects) == workers * n and set(subjects.values()) == {1}
    # concurrent promotions of several versions into the exclusive stage: one holder at the end
    candidates = [f"{w}.{n - 1}.0" for w in range(4)]
    for version in candidates:
        _approve_and_stage(team, version)
    results: list[int] = []

    def promote(version: str) -> None:
        remote = Remote(team.url, team.ci_token)
        try:
            d = remote.promote("toy", version, "production", None)["decision"]
            results.append(0 if d["outcome"] == "promoted" else 1)
        finally:
            remote.close()

    threads = [threading.Thread(target=promote, args=(v,)) for v in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == [0] * len(candidates)
    models = remote_cli(team.url, team.ci_token, "models", "--format", "json").json()
    in_prod = [v["version"] for v in models[0]["versions"] if v["stage"] == "production"]
    assert len(in_prod) == 1


def test_several_server_processes_share_one_log(tmp_path: Path) -> None:
    """`serve --workers 2`: two processes, one database, one key; writes from both land in one
    log that verifies, and each worker spools uploads in a directory of its own."""
    team = build_team(tmp_path, f"sqlite:///{tmp_path / 'team.db'}")
    team.server.args = ("--workers", "2")
    team.server.start()
    try:
        errors: list[BaseException] = []

        def client(w: int) -> None:
            remote = Remote(team.url, team.ci_token)
            try:
                for i in range(3):
                    remote.register(small_manifest(tmp_path / f"c{w}-{i}", version=f"{w}.{i}.0"))
            except BaseException as exc:
                errors.append(exc)
            finally:
                remote.close()

        threads = [threading.Thread(target=client, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert errors == []
        models = remote_cli(team.url, team.ci_token, "models", "--format", "json").json()
        assert len(models[0]["versions"]) == 9
        vkey = (team.home / "keys" / "log.vkey").read_text().strip()
        r = remote_cli(team.url, team.ci_token, "log", "verify", "--vkey", vkey)
        assert r.code == 0, r.err
        assert r.out.startswith("ok: ")
        assert len(list((team.home / "spool").glob("w*"))) == 2
    finally:
        team.server.stop()

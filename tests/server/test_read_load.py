"""Reads under concurrency succeed or queue, never fail; the token cache keeps revocation
prompt; a client reads its own writes at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_support import remote_cli
from team_support import Team, build_team

from helpers import run_cli, small_manifest


@pytest.fixture
def uncached_team(tmp_path: Path, db_url: str) -> Iterator[Team]:
    """A server whose read answers are never reused: every read goes to the database."""
    t = build_team(tmp_path, db_url, server={"read_cache_seconds": 0})
    t.server.start()
    try:
        yield t
    finally:
        t.server.stop()


def test_concurrent_verified_reads_in_process_all_succeed(tmp_path: Path, db_url: str) -> None:
    """The app alone (no uvicorn, no lifespan), 50 readers at once, nothing cached."""
    from ordinance.server import create_app
    from ordinance.workspace import Workspace

    team = build_team(tmp_path, db_url, server={"read_cache_seconds": 0})
    r = run_cli("--home", team.home, "register", small_manifest(tmp_path / "m"))
    assert r.code == 0, r.err
    ws = Workspace.open(team.home)
    try:
        ws.log_signer = ws.audit_log().signer
        app = create_app(ws)
        statuses: list[int] = []

        async def reader(client: httpx.AsyncClient) -> None:
            for _ in range(4):
                statuses.append((await client.get("/v1/models/toy/versions/1.0.0")).status_code)

        async def run() -> None:
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {team.ci_token}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://ordinance", headers=headers, timeout=120
            ) as c:
                await asyncio.wait_for(asyncio.gather(*(reader(c) for _ in range(50))), 60)

        asyncio.run(run())
        assert statuses == [200] * 200
    finally:
        ws.close()


def test_sixty_concurrent_verified_reads_all_succeed(uncached_team: Team, tmp_path: Path) -> None:
    """A guarded version read holds one connection while the log check takes another: with
    more request threads than the pool could serve twice, every read used to wait for a
    connection nobody returned and fail with 503 after 30 s."""
    team = uncached_team
    r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
    assert r.code == 0, r.err
    statuses: list[int] = []

    async def reader(client: httpx.AsyncClient, i: int) -> None:
        for k in range(5):
            path = "/v1/log/checkpoint" if (i + k) % 3 == 0 else "/v1/models/toy/versions/1.0.0"
            statuses.append((await client.get(path)).status_code)

    async def run() -> float:
        limits = httpx.Limits(max_connections=60)
        headers = {"Authorization": f"Bearer {team.ci_token}"}
        async with httpx.AsyncClient(
            base_url=team.url, headers=headers, limits=limits, timeout=120
        ) as c:
            t0 = time.monotonic()
            await asyncio.gather(*(reader(c, i) for i in range(60)))
            return time.monotonic() - t0

    elapsed = asyncio.run(run())
    assert statuses == [200] * 300
    assert elapsed < 60  # queued, not stuck until the pool's 30 s timeout


def test_a_revoked_token_is_refused_by_the_api_within_a_second_or_so(team: Team) -> None:
    headers = {"Authorization": f"Bearer {team.vera.token}"}
    assert httpx.get(f"{team.url}/v1/whoami", headers=headers, timeout=30).status_code == 200
    token_id = team.vera.token.split("_")[1]
    assert run_cli("--home", team.home, "token", "revoke", token_id).code == 0
    t0 = time.monotonic()
    while True:
        r = httpx.get(f"{team.url}/v1/whoami", headers=headers, timeout=30)
        if r.status_code == 401:
            assert "revoked" in r.json()["error"]["message"]
            break
        assert r.status_code == 200
        assert time.monotonic() - t0 < 1.5, "the revocation did not reach the API in time"
        time.sleep(0.05)


def test_a_client_reads_its_own_writes(team: Team, tmp_path: Path) -> None:
    """Cached reads are dropped by every write the server answers: the checkpoint and the
    version read right after a registration and a promotion show them."""
    headers = {"Authorization": f"Bearer {team.ci_token}"}
    with httpx.Client(base_url=team.url, headers=headers, timeout=60) as c:
        before = int(c.get("/v1/log/checkpoint").text.splitlines()[1])
        r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
        assert r.code == 0, r.err
        assert c.get("/v1/models/toy/versions/latest").json()["version"] == "1.0.0"
        after = int(c.get("/v1/log/checkpoint").text.splitlines()[1])
        assert after > before
        r = remote_cli(team.url, team.ci_token, "promote", "toy@1.0.0", "--to", "staging")
        assert r.code == 0, r.err
        assert c.get("/v1/models/toy/versions/1.0.0").json()["stage"] == "staging"
        assert int(c.get("/v1/log/checkpoint").text.splitlines()[1]) > after


def test_a_version_answer_lives_while_the_log_does_not_grow(tmp_path: Path, db_url: str) -> None:
    """Past its second a cached version answer is revalidated by the log's size: a write by
    another process (a local command on the server's workspace) shows once the second is up;
    an index row edited behind the log's back (no log growth) never reaches the answer."""
    import sqlalchemy as sa

    team = build_team(tmp_path, db_url, server={"read_cache_seconds": 0.3})
    team.server.start()
    try:
        headers = {"Authorization": f"Bearer {team.ci_token}"}
        r = remote_cli(team.url, team.ci_token, "register", small_manifest(tmp_path / "m"))
        assert r.code == 0, r.err
        with httpx.Client(base_url=team.url, headers=headers, timeout=60) as c:
            assert c.get("/v1/models/toy/versions/1.0.0").json()["stage"] == "development"
            # a write the server did not answer: only the log's growth can tell the server
            out = run_cli(
                "--home", team.home, "promote", "toy@1.0.0", "--to", "staging", "--actor", "ops"
            )
            assert out.code == 0, out.err
            time.sleep(0.4)
            assert c.get("/v1/models/toy/versions/1.0.0").json()["stage"] == "staging"
            # an edited index row, the log unchanged: the verified answer stays
            engine = sa.create_engine(db_url)
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE ordinance_version SET stage = 'production'"))
            engine.dispose()
            time.sleep(0.4)
            body = c.get("/v1/models/toy/versions/1.0.0")
            assert body.status_code == 200, body.text
            assert body.json()["stage"] == "staging"
    finally:
        team.server.stop()

"""Fixtures for the console: the story workspace, a live server on loopback, Chromium.

The server is a real ``ordinance serve`` subprocess on 127.0.0.1; the browser is Debian's Chromium
driven by Playwright (its own browser download is not reachable here). Without Chromium
the browser tests skip, unless ``ORDINANCE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_support import Story, build_story

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHROMIUM = os.environ.get("ORDINANCE_CHROMIUM", "/usr/bin/chromium")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    story: Story
    proc: subprocess.Popen[bytes]
    log: Path

    def cli(
        self, *args: str | Path, token: str | None = None, offline: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``ordinance ARGS`` as a separate process: with ``token``, a remote client of
        the server (its own empty home, ORDINANCE_URL + ORDINANCE_TOKEN); without, the
        operator on the server's own workspace."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDINANCE_")}
        # who acts is always explicit: the operator (roster admin) on the server host, CI
        # with its token, an auditor offline
        env["ORDINANCE_ACTOR"] = (
            "auditor@bank.example"
            if offline
            else "admin@bank.example"
            if token is None
            else "ci@bank.example"
        )
        if offline:
            elsewhere = self.story.home.parent / "auditor"
            elsewhere.mkdir(exist_ok=True)
            env.update(HOME=str(elsewhere), ORDINANCE_HOME=str(elsewhere / ".ordinance"))
        elif token is None:
            env["ORDINANCE_HOME"] = str(self.story.home)
        else:
            client_home = self.story.home.parent / "client"
            client_home.mkdir(exist_ok=True)
            env.update(
                ORDINANCE_URL=self.url,
                ORDINANCE_TOKEN=token,
                HOME=str(client_home),
                ORDINANCE_HOME=str(client_home / ".ordinance"),
            )
        return subprocess.run(
            [sys.executable, "-m", "ordinance", *map(str, args)],
            env=env,
            cwd=self.story.home.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )


def start_server(story: Story, base: Path) -> Server:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORDINANCE_")},
        "ORDINANCE_HOME": str(story.home),
    }
    log = base / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ordinance",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/console/login", timeout=1).status_code == 200:
                return Server(url, story, proc, log)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 30 s")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module", params=["plain", "hostile"])
def story(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Story:
    """The story workspace, once with plain data and once with hostile model data."""
    return build_story(tmp_path_factory.mktemp("console"), hostile=request.param == "hostile")


@pytest.fixture(scope="module")
def server(story: Story) -> Iterator[Server]:
    s = start_server(story, story.home.parent)
    try:
        yield s
    finally:
        stop_server(s)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Module scope, not session: a live Playwright driver keeps an asyncio child-watcher thread
    # alive, and later tests (the log's forked structural verifier) require a single thread.
    if not Path(CHROMIUM).exists():
        if os.environ.get("ORDINANCE_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        if os.environ.get("ORDINANCE_REQUIRE_BROWSER"):
            pytest.fail(f"axe-core missing at {AXE} (npm install axe-core in tests/console)")
        pytest.skip("axe-core is not installed (npm install --prefix tests/console axe-core)")
    return AXE.read_text(encoding="utf-8")


def have_npm() -> bool:
    return shutil.which("npm") is not None

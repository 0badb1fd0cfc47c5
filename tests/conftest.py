"""Shared fixtures: the ../shared data directory and the two storage backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import fresh_pg_schema, pg_available, pg_url_or_skip
from helpers import Templates

REPO = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path | None:
    env = os.environ.get("ORDINANCE_SHARED")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared", REPO / ".." / "shared"]:
        if cand.is_dir():
            return cand.resolve()
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared directory (test vectors, COMPAS, Adult, SARIF schema)."""
    d = _shared_dir()
    if d is None:
        pytest.skip(
            "../shared is absent (set ORDINANCE_SHARED): public vectors and data sets unavailable"
        )
    return d


def pytest_report_header(config: pytest.Config) -> list[str]:
    url, why = pg_available()
    lines = [f"ordinance storage backends: sqlite{' + postgresql (' + url + ')' if url else ''}"]
    if url is None:
        lines.append(f"ordinance: PostgreSQL tests SKIPPED: {why}")
    d = _shared_dir()
    lines.append(f"ordinance shared data: {d if d else 'ABSENT (tests needing it are skipped)'}")
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n N --dist loadgroup`` a test module runs on one worker, so module- and
    session-scoped fixtures (a demo workspace, a live server, Chromium) are built once per
    module, not once per worker; ``@pytest.mark.xdist_group(name)`` puts several modules that
    share an expensive session fixture on the same worker."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend (PostgreSQL skipped with a reason)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ordinance.db'}"
        return
    yield from fresh_pg_schema(pg_url_or_skip())


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Workspaces built once per session and copied into each test's directory."""
    return Templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(autouse=True)
def _explicit_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that write need an explicit identity (``--actor`` or ``$ORDINANCE_ACTOR``);
    tests run as this one unless they say otherwise (``tests/test_cli_consistency.py`` unsets
    it to check the refusal)."""
    if not os.environ.get("ORDINANCE_ACTOR"):
        monkeypatch.setenv("ORDINANCE_ACTOR", "tests@ordinance.example")

"""Shared fixtures: the ../shared data directory and the two storage backends."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import fresh_pg_schema, pg_available, pg_url_or_skip
from helpers import Templates

# Compiled report templates are cached per user (src/ordinance/report/_templates.py); the
# tests keep theirs in a directory of their own (0700, as the cache requires), never ~/.cache.
os.environ.setdefault("ORDINANCE_CACHE_DIR", tempfile.mkdtemp(prefix="ordinance-test-cache-"))

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


#: directories whose modules share a costly session fixture (the report tests read one demo
#: workspace): under ``pytest -n`` the whole directory is one unit of work, so it is built once
SHARED_UNITS = ("tests/report/",)


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((d for d in SHARED_UNITS if path.startswith(d)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``pytest -n auto`` (pytest-xdist) hands out whole modules (or ``SHARED_UNITS``), not
    single tests, so module-scoped fixtures (a live server, Chromium, a story workspace) are
    built once, not once per worker. Units come in collection order, which puts those holding
    a test marked ``slow`` first (below). An explicit ``--dist`` other than ``load`` is kept."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False  # keep the slow-first order
    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker, put the units holding a test marked ``slow`` first, so a two-minute
    module does not start last while the other core idles (every worker sorts alike)."""
    if not hasattr(config, "workerinput"):
        return
    slow = {_unit(i.nodeid) for i in items if i.get_closest_marker("slow") is not None}
    slow.update(SHARED_UNITS)
    items.sort(key=lambda i: _unit(i.nodeid) not in slow)  # stable: the order within is kept


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

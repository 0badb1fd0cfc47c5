"""Shared fixtures: the ../shared data directory and the two storage backends."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _shared_dir() -> Path | None:
    env = os.environ.get("DOCKET_SHARED")
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
            "../shared is absent (set DOCKET_SHARED): public vectors and data sets unavailable"
        )
    return d


def _pg_url() -> str | None:
    url = os.environ.get("DOCKET_TEST_PG_URL", DEFAULT_PG_URL)
    if url in ("", "none", "off"):
        return None
    return url


_PG_STATUS: dict[str, str | None] = {}


def pg_available() -> tuple[str | None, str]:
    """(url, reason) — url is None when PostgreSQL cannot be reached."""
    url = _pg_url()
    if url is None:
        return None, "PostgreSQL tests disabled (DOCKET_TEST_PG_URL is empty)"
    if "ok" not in _PG_STATUS:
        try:
            import psycopg

            plain = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(plain, connect_timeout=3) as conn:
                conn.execute("select 1")
            _PG_STATUS["ok"] = "yes"
        except Exception as exc:
            _PG_STATUS["ok"] = None
            _PG_STATUS["why"] = f"PostgreSQL unreachable at {url}: {exc!s}".splitlines()[0]
    if _PG_STATUS["ok"]:
        return url, ""
    return None, _PG_STATUS.get("why") or "PostgreSQL unreachable"


def pytest_report_header(config: pytest.Config) -> list[str]:
    url, why = pg_available()
    lines = [f"docket storage backends: sqlite{' + postgresql (' + url + ')' if url else ''}"]
    if url is None:
        lines.append(f"docket: PostgreSQL tests SKIPPED: {why}")
    d = _shared_dir()
    lines.append(f"docket shared data: {d if d else 'ABSENT (tests needing it are skipped)'}")
    return lines


def pg_url_or_skip() -> str:
    """The PostgreSQL URL; skip with the reason (or fail, when DOCKET_REQUIRE_PG is set)."""
    url, why = pg_available()
    if url is None:
        if os.environ.get("DOCKET_REQUIRE_PG"):
            pytest.fail(f"DOCKET_REQUIRE_PG is set but {why}")
        pytest.skip(why)
    return url


def _fresh_pg_schema(url: str) -> Iterator[str]:
    """Give each test its own PostgreSQL schema, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend (PostgreSQL skipped with a reason)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'docket.db'}"
        return
    yield from _fresh_pg_schema(pg_url_or_skip())

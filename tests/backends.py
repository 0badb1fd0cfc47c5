"""The PostgreSQL backend for tests: is it reachable, and a fresh schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_url() -> str | None:
    url = os.environ.get("ORDINANCE_TEST_PG_URL", DEFAULT_PG_URL)
    if url in ("", "none", "off"):
        return None
    return url


_PG_STATUS: dict[str, str | None] = {}


def pg_available() -> tuple[str | None, str]:
    """(url, reason) — url is None when PostgreSQL cannot be reached."""
    url = _pg_url()
    if url is None:
        return None, "PostgreSQL tests disabled (ORDINANCE_TEST_PG_URL is empty)"
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


def pg_url_or_skip() -> str:
    """The PostgreSQL URL; skip with the reason (or fail, when ORDINANCE_REQUIRE_PG is set)."""
    url, why = pg_available()
    if url is None:
        if os.environ.get("ORDINANCE_REQUIRE_PG"):
            pytest.fail(f"ORDINANCE_REQUIRE_PG is set but {why}")
        pytest.skip(why)
    return url


def fresh_pg_schema(url: str) -> Iterator[str]:
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

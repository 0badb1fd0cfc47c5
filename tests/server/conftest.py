"""Fixtures for the server tests: moto S3, buckets, a started team server on each backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import S3_ENV, env, make_bucket, moto_server
from team_support import Team, build_team


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def team(tmp_path: Path, db_url: str) -> Iterator[Team]:
    """A started server on each backend (SQLite, PostgreSQL), local evidence."""
    t = build_team(tmp_path, db_url)
    t.server.start()
    try:
        yield t
    finally:
        t.server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[dict[str, str]]:
    name = f"ev-{uuid.uuid4().hex[:12]}"
    with env(**S3_ENV):
        make_bucket(s3_endpoint, name)
        yield {"backend": "s3", "bucket": name, "endpoint_url": s3_endpoint, "prefix": "team"}


def pg_db_url() -> Iterator[str]:
    from backends import fresh_pg_schema, pg_url_or_skip

    yield from fresh_pg_schema(pg_url_or_skip())


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_db_url()

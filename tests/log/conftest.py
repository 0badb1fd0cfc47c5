"""Fixtures for the audit log: a fresh schema on each backend, a log key, a log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from logtest_support import ORIGIN, Clock
from sqlalchemy import Engine

from ordinance.log import TransparencyLog, create_schema
from ordinance.signing import Ed25519Signer, generate_key, load_signer
from ordinance.store._engine import make_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    try:
        with eng.begin() as conn:
            create_schema(conn)
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "log.key"
    generate_key(path, ORIGIN)
    return path


@pytest.fixture
def signer(key_path: Path) -> Ed25519Signer:
    return load_signer(key_path)


@pytest.fixture
def log(engine: Engine, signer: Ed25519Signer) -> TransparencyLog:
    return TransparencyLog(engine, signer, ORIGIN, clock=Clock())

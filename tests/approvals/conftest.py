"""Fixtures for the approvals and promotion tests: a workspace on each backend, a roster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from approvals_support import People, build_versions, make_people

from helpers import Templates
from ordinance.workspace import Workspace


@pytest.fixture
def people() -> People:
    return make_people()


@pytest.fixture
def ws(tmp_path: Path, db_url: str, people: People, templates: Templates) -> Iterator[Workspace]:
    """A workspace with toy@1.0.0, 2.0.0, 3.0.0 registered at T0 and the roster applied.

    On SQLite a copy of one built per session; on PostgreSQL built in the test's own schema."""
    if db_url.startswith("sqlite:"):

        def build(root: Path) -> None:
            build_versions(root, f"sqlite:///{root / 'ordinance.db'}", people).close()

        templates.clone("approvals-versions", build, tmp_path)
        w = Workspace.open(tmp_path / ".ordinance")
        assert w.db_url == db_url, "the copy must not point at the template's database"
    else:
        w = build_versions(tmp_path, db_url, people)
    yield w
    w.close()

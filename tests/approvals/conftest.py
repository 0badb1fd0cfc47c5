"""Fixtures for the approvals and promotion tests: a workspace on each backend, a roster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from approvals_support import HOUR, T0, People, make_people, make_workspace

from helpers import small_manifest
from ordinance.approvals import apply_roster
from ordinance.workspace import Workspace


@pytest.fixture
def people() -> People:
    return make_people()


@pytest.fixture
def ws(tmp_path: Path, db_url: str, people: People) -> Iterator[Workspace]:
    """A workspace with toy@1.0.0, 2.0.0, 3.0.0 registered at T0 and the roster applied."""
    w = make_workspace(tmp_path, db_url)
    for i, version in enumerate(("1.0.0", "2.0.0", "3.0.0")):
        w.register(
            small_manifest(tmp_path / f"v{version}", version=version),
            now=T0 + i * 60 * (HOUR / 3600),
        )
    apply_roster(w, people.roster(), actor="admin", now=T0)
    yield w
    w.close()

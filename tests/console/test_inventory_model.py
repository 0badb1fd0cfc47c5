"""The inventory's read model is folded from the verified log: it equals the plain assembly
from the index tables on a genuine workspace (differential), ignores an edited index row, and
refuses a log whose entries were edited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from console_support import Story, build_story
from sqlalchemy import text

from ordinance import promote
from ordinance.approvals import approve, revoke
from ordinance.errors import VerificationError
from ordinance.server.console._views import (
    InventoryCache,
    assemble_inventory,
    index_facts,
)
from ordinance.signing import Ed25519Signer, load_signer
from ordinance.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return build_story(tmp_path_factory.mktemp("inv"))


@pytest.fixture
def ws(story: Story) -> Iterator[Workspace]:
    w = Workspace.open(story.home)
    yield w
    w.close()


def test_the_log_projection_equals_the_index_assembly(story: Story, ws: Workspace) -> None:
    now = datetime.now(UTC)
    cache = InventoryCache()
    first = cache.get(ws, now)
    assert first == assemble_inventory(ws, index_facts(ws), now=now)
    v11 = next(v for v in first[0].versions if v.version == "1.1.0")
    assert v11.requested == "production" and v11.missing == ["risk-officer", "validator"]

    # more history: an expiring approval, a revoked one, a denied promotion, a promotion
    vera = load_signer(story.vera_key)
    rita = Ed25519Signer.from_seed(b"\x01" * 32, "rita@bank.example/retired")  # in the roster
    approve(ws, story.model, "1.0.0", "production", vera, expires_in=timedelta(hours=1), now=now)
    rec = approve(ws, story.model, "1.1.0", "production", vera, now=now)
    revoke(ws, rec.digest, vera, reason="re-check", now=now)
    approve(ws, story.model, "1.1.0", "production", vera, now=now + timedelta(seconds=1))
    approve(ws, story.model, "1.1.0", "production", rita, now=now)
    promote(ws, story.model, "1.0.0", "production", "ci", now=now)  # denied: fairness
    d = promote(ws, story.model, "1.1.0", "production", "ci", now=now + timedelta(seconds=2))
    assert d.outcome == "promoted", d.reasons

    for when in (now, now + timedelta(hours=2)):  # before and after the approval expires
        built = cache.get(ws, when)  # folds only the entries added since
        assert built == assemble_inventory(ws, index_facts(ws), now=when)
        assert built == InventoryCache().get(ws, when)  # same as folding the whole log
    versions = {v.version: v for v in built[0].versions}
    assert versions["1.1.0"].stage == "production"
    assert versions["1.0.0"].requested == "production"
    assert versions["1.0.0"].approvers == []  # vera's approval expired


def test_an_edited_index_row_does_not_reach_the_inventory(ws: Workspace) -> None:
    now = datetime.now(UTC)
    cache = InventoryCache()
    before = cache.get(ws, now)
    with ws.engine().begin() as c:
        c.execute(text("DROP TRIGGER IF EXISTS ordinance_evaluation_no_update"))
        c.execute(text("UPDATE ordinance_evaluation SET verdict = 'pass'"))
    assert {v.verdicts.get("production") for v in before[0].versions} >= {"fail"}
    fresh = InventoryCache().get(ws, now)
    assert fresh == before  # the log still says "fail"
    assert assemble_inventory(ws, index_facts(ws), now=now) != before  # the table lies


def _edit_third_entry(ws: Workspace) -> None:
    with ws.engine().begin() as c:
        for trig in c.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all():
            c.execute(text(f'DROP TRIGGER "{trig[0]}"'))
        row = c.execute(
            text("SELECT idx, envelope FROM ordinance_log_entry ORDER BY idx LIMIT 1 OFFSET 2")
        ).one()
        edited = bytes(row[1]).replace(b'"payload":"', b'"payload":"A', 1)
        c.execute(
            text("UPDATE ordinance_log_entry SET envelope = :e WHERE idx = :i"),
            {"e": edited, "i": row[0]},
        )


def test_entries_edited_after_the_head_was_verified_are_refused(
    story: Story, tmp_path: Path
) -> None:
    """The fold proves the bytes it reads against the verified head itself."""
    import shutil

    from ordinance.log.store import TransparencyLog

    shutil.copytree(story.home, tmp_path / "copy")
    ws = Workspace.open(tmp_path / "copy")
    try:
        log = TransparencyLog.reader(ws.engine(), ws.vkey(), ws.config.log_origin)
        log.trusted_head()  # the head is verified, then an entry is edited
        _edit_third_entry(ws)
        cache = InventoryCache()
        cache._log = log
        with pytest.raises(VerificationError, match="do not hash to the verified checkpoint"):
            cache.get(ws, datetime.now(UTC))
    finally:
        ws.close()


def test_an_edited_log_entry_is_refused(story: Story, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(story.home, tmp_path / "copy")
    ws = Workspace.open(tmp_path / "copy")
    try:
        _edit_third_entry(ws)
        with pytest.raises(VerificationError):
            InventoryCache().get(ws, datetime.now(UTC))
    finally:
        ws.close()

"""`ordinance index rebuild` recreates the index from the log; `ordinance log verify` reports
every place the index disagrees with the log."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from approvals_support import DAY, HOUR, T0, People
from test_hostile_index import _one, _setup, attack

from helpers import run_cli
from ordinance import promote
from ordinance.approvals import approvals_store, collect_approvals, current_roster
from ordinance.reindex import check_index, rebuild_index
from ordinance.workspace import Workspace


def _snapshot(ws: Workspace) -> dict[str, Any]:
    reg = ws.registry()
    store = approvals_store(ws)
    return {
        "versions": [v.model_dump(mode="json") for v in reg.list_versions("toy")],
        "transitions": [
            json.dumps(dataclasses.asdict(t), sort_keys=True, default=str)
            for t in reg.transitions("toy")
        ],
        # (row ids are not facts: PostgreSQL sequences do not restart)
        "evaluations": [
            {k: v for k, v in e.items() if k != "id"} for e in reg.evaluations("toy", "1.0.0")
        ],
        "signed": [(r.kind, r.digest, r.stage, r.rule, r.log_index) for r in store.signed("toy")],
        "roster": current_roster(ws).digest,
        "approvals": [
            a.digest
            for a in collect_approvals(ws, reg.get_version("toy", "1.0.0"), "production", T0 + DAY)[
                0
            ]
        ],
    }


def test_rebuild_reproduces_the_index(ws: Workspace, people: People) -> None:
    _setup(ws, people)
    before = _snapshot(ws)
    assert check_index(ws).ok
    report = rebuild_index(ws)
    assert report.rows["ordinance_version"] == 3
    assert report.rows["ordinance_approval"] == 4
    assert report.rows["ordinance_approval_revocation"] == 1
    assert check_index(ws).ok
    assert _snapshot(ws) == before


def test_verify_reports_disagreements_and_rebuild_repairs_them(
    ws: Workspace, people: People
) -> None:
    _setup(ws, people)
    decision = promote(ws, "toy", "2.0.0", "production", "ci", now=T0 + 3 * HOUR)
    ok = run_cli("--home", ws.home, "log", "verify", "--format", "json")
    assert ok.code == 0, ok.err
    assert ok.json()["index"] == {"ok": True, "problems": []}

    attack(ws, "DELETE FROM ordinance_approval_revocation")
    attack(ws, "UPDATE ordinance_version SET author = 'mallory' WHERE version = '2.0.0'")
    attack(ws, "UPDATE ordinance_roster_version SET actor = 'mallory'")
    bad = run_cli("--home", ws.home, "log", "verify", "--format", "json")
    assert bad.code == 1
    data = bad.json()
    assert data["log_ok"] is True and data["ok"] is False
    messages = " | ".join(p["message"] for p in data["index"]["problems"])
    for words in ("ordinance_approval_revocation", "author", "ordinance_roster_version#"):
        assert words in messages, messages
    text = run_cli("--home", ws.home, "log", "verify")
    assert text.code == 1 and "index rebuild" in text.err

    fixed = run_cli("--home", ws.home, "index", "rebuild", "--format", "json")
    assert fixed.code == 0, fixed.err
    again = run_cli("--home", ws.home, "log", "verify", "--format", "json")
    assert again.code == 0, again.out
    assert _one(ws, "SELECT author FROM ordinance_version WHERE version = '2.0.0'")[0] == (
        "alice@example.com"
    )
    # the same decision as before the attack
    assert ws.registry().get_version("toy", "2.0.0").stage == (
        "production" if decision.allowed else "development"
    )

"""The roster: parsing, digests, diffs, history, and who may change it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from approvals_support import HOUR, T0, People

from ordinance import uris
from ordinance.approvals import (
    ApprovalRefused,
    Member,
    Roster,
    apply_roster,
    current_roster,
    parse_roster,
    roster_at,
    roster_diff,
)
from ordinance.errors import InputError, PolicyLoadError
from ordinance.workspace import Workspace


def test_parse_and_digest_is_order_independent(people: People) -> None:
    text = f"""\
apiVersion: ordinance/v1
kind: Roster
members:
  - id: vera@example.com
    roles: [model-validator]
    keys: ["{people.vera.vkey}"]
  - id: rita@example.com
    name: Rita
    roles: [risk-officer]
    keys: ["{people.rita.vkey}"]
"""
    r = parse_roster(text, "roster.yaml")
    lines = text.splitlines()
    swapped = "\n".join(lines[:3] + lines[6:] + lines[3:6]) + "\n"
    assert parse_roster(swapped, "roster.yaml").digest == r.digest
    assert r.member("rita@example.com") is not None
    assert Roster.from_dict(r.to_dict()).digest == r.digest


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ("members:\n  - id: a\n    keys: []\n", ":5:", "keys"),
        ("members:\n  - id: a\n    roles: [Bad Role]\n    keys: [K]\n", ":5:", "bad role name"),
        ("members:\n  - id: a\n    keys: [K]\n  - id: a\n    keys: [K2]\n", ":6:", "duplicate"),
        ("members:\n  - id: a\n    keys: [K]\n    extra: 1\n", ":6:", "extra"),
    ],
)
def test_bad_rosters_are_located(people: People, body: str, where: str, problem: str) -> None:
    body = body.replace("[K]", f"['{people.vera.vkey}']").replace("[K2]", f"['{people.rita.vkey}']")
    with pytest.raises(PolicyLoadError) as exc:
        parse_roster("apiVersion: ordinance/v1\nkind: Roster\n" + body, "r.yaml")
    assert where in exc.value.message and problem in exc.value.message.lower()


def test_one_key_cannot_belong_to_two_members(people: People) -> None:
    with pytest.raises(InputError, match="belongs to both"):
        Roster(
            (
                Member("a", frozenset(), (people.vera.verifier,)),
                Member("b", frozenset(), (people.vera.verifier,)),
            )
        )


def test_changes_are_logged_with_digest_and_diff(ws: Workspace, people: People) -> None:
    new = people.roster(vera=frozenset({"risk-officer"}))
    change = apply_roster(ws, new, actor="admin", now=T0 + HOUR)
    assert change.changed and change.diff["changed"] == {
        "vera@example.com": {
            "roles_added": ["risk-officer"],
            "roles_removed": ["model-validator"],
            "keys_added": [],
            "keys_removed": [],
        }
    }
    entry = ws.audit_log().entry(change.log_index or 0)
    assert entry.predicate_type == uris.ROSTER_CHANGE
    pred = entry.statement["predicate"]
    assert pred["digest"]["sha256"] == new.digest == entry.subject_digest
    assert pred["previous"]["sha256"] == people.roster().digest
    assert pred["diff"] == json.loads(json.dumps(change.diff))
    # identical roster: no-op, nothing logged
    size = ws.audit_log().size()
    assert not apply_roster(ws, new, actor="admin", now=T0 + 2 * HOUR).changed
    assert ws.audit_log().size() == size
    # history
    assert roster_at(ws, T0 + HOUR - HOUR / 2).digest == people.roster().digest
    assert roster_at(ws, T0 + HOUR).digest == new.digest
    assert roster_at(ws, T0 - HOUR).members == ()
    assert current_roster(ws).digest == new.digest
    with pytest.raises(InputError, match="predate"):
        apply_roster(ws, people.roster(), actor="admin", now=T0)


def test_roster_admins_must_sign_changes(ws: Workspace, people: People) -> None:
    admin_roster = people.roster(rita=frozenset({"risk-officer", "roster-admin"}))
    apply_roster(ws, admin_roster, actor="bootstrap", now=T0 + HOUR)
    grab = people.roster(eddie=frozenset({"risk-officer"}), rita=frozenset({"roster-admin"}))
    with pytest.raises(ApprovalRefused, match="sign the change"):
        apply_roster(ws, grab, actor="eddie", now=T0 + 2 * HOUR)
    with pytest.raises(ApprovalRefused, match="not a roster-admin key"):
        apply_roster(ws, grab, actor="eddie", now=T0 + 2 * HOUR, signer=people.eddie)
    change = apply_roster(ws, grab, actor="rita", now=T0 + 2 * HOUR, signer=people.rita)
    assert change.changed
    entry = ws.audit_log().entry(change.log_index or 0)
    assert b"sig" in entry.envelope and entry.predicate_type == uris.ROSTER_CHANGE


def test_diff_added_and_removed(people: People) -> None:
    old = people.roster()
    new = Roster(tuple(m for m in old.members if m.id != "eddie@example.com"))
    d = roster_diff(old, new)
    assert d["removed"] == ["eddie@example.com"] and d["added"] == [] and d["changed"] == {}
    assert roster_diff(new, old)["added"][0]["id"] == "eddie@example.com"


def test_core_modules_do_not_import_the_cli() -> None:
    code = (
        "import sys, ordinance.approvals, ordinance.promotion, ordinance.attest\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click','rich','weasyprint')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_story_runs(tmp_path: Path, db_url: str) -> None:
    from approvals_support import make_workspace

    from helpers import small_manifest
    from ordinance.demo import promotion_story
    from ordinance.stage_history import holder_at

    ws = make_workspace(tmp_path, db_url)
    for v, auc in (("1.0.0", 0.6), ("1.1.0", 0.9)):
        ws.register(small_manifest(tmp_path / v, version=v, metrics={"auc": auc}), now=T0)
    said: list[str] = []
    decisions = promotion_story(
        ws,
        "toy",
        "1.0.0",
        "1.1.0",
        keys_dir=tmp_path / "approvers",
        say=said.append,
        start=T0 + HOUR,
    )
    assert [d.outcome for d in decisions] == ["denied", "promoted", "promoted", "promoted"]
    assert decisions[0].reasons[0].startswith("prod-gate/auc-floor")
    assert decisions[3].kind == "rollback" and decisions[3].demoted == "1.0.0"
    assert holder_at(ws, "toy", T0 + 10 * HOUR) == "1.1.0"
    assert any("production = 1.0.0" in line for line in said)
    ws.close()

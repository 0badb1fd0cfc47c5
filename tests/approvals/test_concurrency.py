"""Concurrent `ordinance promote` processes for different versions of one model."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from approvals_support import People

from ordinance import uris
from ordinance.approvals import approve, roster_vkeys
from ordinance.workspace import Workspace

VERSIONS = ("1.0.0", "2.0.0", "3.0.0")


def _spawn(ws: Workspace, version: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ORDINANCE_ACTOR": f"proc-{version}"}
    env.pop("ORDINANCE_HOME", None)
    env.pop("ORDINANCE_DB", None)
    cmd = [sys.executable, "-m", "ordinance", "--home", str(ws.home), "--db", ws.db_url]
    cmd += ["promote", f"toy@{version}", "--to", "production", "--format", "json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_concurrent_promotions_leave_one_production_version(ws: Workspace, people: People) -> None:
    now = datetime.now(UTC)
    for v in VERSIONS:
        approve(ws, "toy", v, "production", people.vera, now=now)
        approve(ws, "toy", v, "production", people.rita, now=now)
    procs = [_spawn(ws, v) for v in VERSIONS]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    registry = ws.registry()
    stages = {v.version: v.stage for v in registry.list_versions("toy")}
    in_production = [v for v, s in stages.items() if s == "production"]
    assert len(in_production) == 1, stages
    assert sorted(s for s in stages.values()) == ["archived", "archived", "production"]

    # the log tells the same story as the registry: replay its transition entries
    log = ws.audit_log()
    replayed = {v: "development" for v in VERSIONS}
    previous: dict[str, object] | None = None
    for e in log.entries(predicate_type=uris.TRANSITION):
        pred = e.statement["predicate"]
        version = e.subject_name.split("@", 1)[1]
        if pred["kind"] in ("denied", "aborted"):
            continue
        assert replayed[version] == pred["fromStage"], (version, pred)
        if pred["toStage"] == "production" and any(s == "production" for s in replayed.values()):
            pytest.fail(f"{version} entered production while another version held it")
        if previous is not None and previous["kind"] == "demote":
            assert previous["replacedBy"] == version  # demote and promote: one batch
        replayed[version] = pred["toStage"]
        previous = pred
    assert replayed == stages
    transitions = registry.transitions("toy")
    assert [t.kind for t in transitions].count("promote") == 3
    assert [t.kind for t in transitions].count("demote") == 2
    assert {t.log_index for t in transitions} <= {e.index for e in log.entries()}
    report = log.verify(ws.vkey(), deep=True, entry_vkeys=roster_vkeys(ws))
    assert report.ok, report.reason

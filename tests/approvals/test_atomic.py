"""A log entry and the rows that index it commit together or not at all (both backends).

Promotions (transitions + stage changes), approvals, waivers and revocations each write a log
entry and an index row; a failure between the two must leave neither.
"""

from __future__ import annotations

from typing import Any

import pytest
from approvals_support import HOUR, T0, People

from ordinance import promote
from ordinance.approvals import approve, collect_approvals, roster_vkeys
from ordinance.errors import ConflictError, InfrastructureError
from ordinance.store._approval_tables import ApprovalStore
from ordinance.store.registry import SqlRegistry
from ordinance.workspace import Workspace


def _kinds(ws: Workspace, start: int) -> list[str]:
    log = ws.audit_log()
    return [
        str(log.entry(i).statement["predicate"].get("kind", log.entry(i).predicate_type))
        for i in range(start, log.size())
    ]


def _verifies(ws: Workspace) -> None:
    report = ws.audit_log().verify(ws.vkey(), deep=True, entry_vkeys=roster_vkeys(ws))
    assert report.ok, report.reason


def _stages(ws: Workspace) -> dict[str, str]:
    return {v.version: v.stage for v in ws.registry().list_versions("toy")}


def test_promotion_that_cannot_be_applied_logs_no_transition(
    ws: Workspace, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    size_before = ws.audit_log().size()
    stages_before = _stages(ws)

    def conflict(self: SqlRegistry, *args: Any, **kwargs: Any) -> None:
        raise ConflictError("toy@1.0.0 is no longer in stage 'development'")

    monkeypatch.setattr(SqlRegistry, "_apply_transitions", conflict)
    with pytest.raises(ConflictError):
        promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    monkeypatch.undo()
    kinds = _kinds(ws, size_before)
    # the evaluation (VSA) and the aborted attempts are on the record; no promote entry is
    assert "promote" not in kinds and "aborted" in kinds, kinds
    assert _stages(ws) == stages_before
    assert ws.registry().transitions("toy") == []
    _verifies(ws)
    # and once the conflict is gone the promotion goes through
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * HOUR)
    assert d.allowed and _stages(ws)["1.0.0"] == "production"
    (idx,) = d.log_indexes
    assert ws.audit_log().entry(idx).statement["predicate"]["kind"] == "promote"


def test_approval_whose_index_row_fails_is_not_logged(
    ws: Workspace, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    size_before = ws.audit_log().size()
    real = ApprovalStore.add_signed

    def crash(self: ApprovalStore, **kwargs: Any) -> None:
        real(self, **kwargs)  # the row is written in the transaction ...
        raise InfrastructureError("simulated crash before commit")  # ... which never commits

    monkeypatch.setattr(ApprovalStore, "add_signed", crash)
    with pytest.raises(InfrastructureError, match="simulated crash"):
        approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    monkeypatch.undo()
    assert ws.audit_log().size() == size_before
    v = ws.registry().get_version("toy", "1.0.0")
    assert collect_approvals(ws, v, "production", T0 + HOUR) == ([], [])
    # the approver simply approves again: one entry, one row
    rec = approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    assert rec.log_index == size_before
    assert ws.audit_log().size() == size_before + 1
    _verifies(ws)

from __future__ import annotations

from approvals_support import DAY, HOUR, T0, People

from ordinance import promote
from ordinance.approvals import approve
from ordinance.stage_history import holder_at
from ordinance.workspace import Workspace


def test_promote_with_two_approvals(ws: Workspace, people: People) -> None:
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + HOUR)
    assert not d.allowed, d.reasons
    approve(ws, "toy", "1.0.0", "production", people.vera, "ok", now=T0 + 2 * HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, "ok", now=T0 + 2 * HOUR)
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * HOUR)
    assert d.allowed, d.reasons
    assert holder_at(ws, "toy", T0 + DAY) == "1.0.0"
    assert holder_at(ws, "toy", T0 + HOUR) is None

"""Same records, same bytes: no wall clock, everything sorted."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordinance.report import (
    build_card_context,
    build_portfolio_context,
    build_report_context,
    render_card,
    render_document,
    render_report,
)
from ordinance.workspace import Workspace


@pytest.mark.parametrize("document", ["card", "report"])
def test_rendering_twice_gives_identical_html(demo_home: Path, document: str) -> None:
    outputs = []
    for _ in range(2):
        with Workspace.open(demo_home) as ws:  # a fresh connection each time
            build = build_card_context if document == "card" else build_report_context
            outputs.append(render_document(document, build(ws, "credit-risk", "1.1.0"), "html"))
    assert outputs[0] == outputs[1]
    assert b"credit-risk@1.1.0" in outputs[0]


def test_written_files_are_identical(demo_ws: Workspace, tmp_path: Path) -> None:
    a = render_card(demo_ws, "credit-risk", "1.0.0", "md", tmp_path / "a.md")
    b = render_card(demo_ws, "credit-risk", "1.0.0", "md", tmp_path / "b.md")
    assert a.read_bytes() == b.read_bytes()
    c = render_report(demo_ws, "credit-risk", "1.0.0", "html", tmp_path / "c.html")
    d = render_report(demo_ws, "credit-risk", "1.0.0", "html", tmp_path / "d.html")
    assert c.read_bytes() == d.read_bytes()


def test_dates_come_from_records(demo_ws: Workspace) -> None:
    """One clock: the report's date is the newest time a signer put in a statement, and
    every time in the audit trail is a signed statement time."""
    from ordinance import uris
    from ordinance.report.context import signed_time

    ctx = build_report_context(demo_ws, "credit-risk", "1.1.0")
    log = demo_ws.audit_log()
    # rendering records (the demo's own renderings) are not inputs of a report
    signed = [signed_time(e.statement) for e in log.entries() if e.predicate_type != uris.RENDERING]
    assert ctx["date"] == max(t for t in signed if t)
    by_index = {e.index: signed_time(e.statement) for e in log.entries()}
    assert ctx["audit_trail"]
    for row in ctx["audit_trail"]:
        assert row["signed_at"] == by_index[row["index"]]
        assert row["signed_by"], row  # every entry's signer is a verified identity
    times = [row["signed_at"] for row in ctx["audit_trail"] if row["signed_at"]]
    assert times == sorted(times)  # the demo story runs on one clock
    portfolio = build_portfolio_context(demo_ws)
    assert portfolio["period"]["as_of"] == ctx["date"]

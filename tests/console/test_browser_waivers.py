"""Waiver requests in Chromium: the author asks for waivers of the failing fairness rule; the
risk officer grants one by signing the waiver in her browser and declines the other with a
reason; the rule shows as waived; the log, grant included, verifies with ``--deep``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from browser import Guard, check_page, login
from console_support import roster_members, write_roster
from playwright.sync_api import expect

from ordinance.approvals import waiver_requests
from ordinance.signing import Envelope, parse_vkey
from ordinance.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
RULE = "fairness-false-positive-rate"

pytestmark = pytest.mark.slow


def _shots(tmp_path: Path) -> Path:
    return REPO / "docs" / "images" if os.environ.get("ORDINANCE_WRITE_SCREENSHOTS") else tmp_path


def test_request_grant_decline_in_the_browser(
    server: Any, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    base, story = server.url, server.story
    model = story.model
    shots = None if story.hostile else _shots(tmp_path)
    guards = {"alice": Guard(), "rita": Guard()}
    alice_ctx, rita_ctx = chromium.new_context(), chromium.new_context()
    alice = guards["alice"].attach(alice_ctx.new_page())
    rita = guards["rita"].attach(rita_ctx.new_page())
    version = f"{base}/console/version?model={model}&version=1.0.0&stage=production"
    hostile = "<img src=x onerror=alert('req')>" if story.hostile else ""

    # -- the author (no signing key at all) asks twice for a waiver of the failing rule
    login(alice, base, story.tokens["alice"])
    for n, why in enumerate(("the postcode proxy is removed in 1.1", "a second opinion, please")):
        alice.goto(version)
        alice.get_by_role("link", name=f"Request a waiver of {RULE}").click()
        if n == 0:
            check_page(alice, axe_source, shots, "waiver-request")
        alice.get_by_label("Justification (at least 10 characters)").fill(why + hostile)
        alice.get_by_label("Expires after (days, 1 to 365)").fill("14")
        alice.get_by_role("button", name="Request the waiver").click()
        alice.wait_for_url("**/console/version?*")
        expect(alice.get_by_role("status").first).to_contain_text("It is not a waiver")
    rule = alice.locator("tr", has=alice.locator(".rule-id", has_text=RULE))
    expect(rule).to_contain_text("fail")  # a request waives nothing
    requests = alice.locator("#waiver-requests + table")
    expect(requests.locator(".badge", has_text="pending")).to_have_count(2)

    # -- the risk officer enrolls a browser key (the admin applies the signed roster change)
    login(rita, base, story.tokens["rita"])
    rita.goto(base + "/console/keys")
    rita.get_by_role("button", name="Generate a key in this browser").click()
    expect(rita.locator("#device-key-status")).to_contain_text("non-extractable Ed25519 key")
    rita_vkey = rita.input_value("#device-vkey")
    roster = write_roster(
        tmp_path / "roster.yaml", roster_members(story, {"rita@bank.example": [rita_vkey]})
    )
    applied = server.cli("roster", "apply", roster, "--key", story.admin_key)
    assert applied.returncode == 0, applied.stderr

    # -- she reviews the requests in her inbox and grants the first: her browser signs it
    rita.goto(base + "/console/inbox")
    grant = rita.get_by_role("link", name=f"Grant the waiver of {RULE} for {model}@1.0.0")
    expect(grant).to_have_count(2)
    check_page(rita, axe_source, shots, "inbox-waiver-requests")
    grant.first.click()
    expect(rita.get_by_label("Justification (at least 10 characters)")).to_have_value(
        "the postcode proxy is removed in 1.1" + hostile
    )
    check_page(rita, axe_source, shots, "waiver-grant")
    rita.get_by_role("button", name="Sign the waiver and grant the request").click()
    rita.wait_for_url("**/console/version?*")
    expect(rita.get_by_role("status").first).to_contain_text(
        "granting alice@bank.example's request"
    )
    rule = rita.locator("tr", has=rita.locator(".rule-id", has_text=RULE))
    expect(rule).to_contain_text("by rita@bank.example")  # the rule shows as waived

    # -- and declines the second, with a reason
    rita.goto(base + "/console/inbox")
    rita.get_by_role("link", name=f"Decline the request to waive {RULE} for {model}@1.0.0").click()
    check_page(rita, axe_source, shots, "waiver-decline")
    rita.get_by_label("Reason (at least 10 characters; logged with your name)").fill(
        "one waiver for this rule is enough"
    )
    rita.get_by_role("button", name="Decline the request").click()
    rita.wait_for_url("**/console/inbox")
    expect(rita.get_by_role("status").first).to_contain_text("You declined the waiver request")
    expect(rita.locator("main")).to_contain_text("None pending.")

    # -- the author sees both outcomes on the version page
    alice.goto(version)
    requests = alice.locator("#waiver-requests + table")
    expect(requests).to_contain_text("granted by rita@bank.example")
    expect(requests).to_contain_text("declined by rita@bank.example: one waiver for this rule")
    if shots is not None:
        check_page(alice, axe_source, shots, "version-waiver-requests")

    # -- the grant is a waiver signed by her browser's key, naming the request; it verifies
    ws = Workspace.open(story.home)
    try:
        states = waiver_requests(ws, model, "1.0.0")
        waivers = [
            e for e in ws.audit_log().entries(model=f"{model}@1.0.0")
            if e.predicate_type.endswith("/waiver/v1")
        ]  # fmt: skip
    finally:
        ws.close()
    assert [s.status for s in states] == ["granted", "declined"]
    assert len(waivers) == 1
    env = Envelope.from_bytes(waivers[0].envelope)
    assert [s.keyid for s in env.signatures] == [parse_vkey(rita_vkey).key_id]
    assert json.loads(env.payload)["predicate"]["request"] == {"sha256": states[0].digest}
    deep = server.cli("log", "verify", "--deep", "--format", "json")
    assert deep.returncode == 0, deep.stdout + deep.stderr
    assert json.loads(deep.stdout)["ok"] is True

    for g in guards.values():
        g.assert_clean()
    alice_ctx.close()
    rita_ctx.close()

"""The console's story in Chromium against a live server on loopback.

A risk officer logs in, enrolls a key generated in her browser (a roster admin applies the
signed roster change), finds the pending promotion, opens the biased version and sees its
failing fairness rule, approves the fair version from the browser; a validator does the
same from his; CI promotes; the browser-made approvals verify with ``log verify --deep``
and offline from the bundle downloaded from the audit page. axe-core runs on every page.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from browser import Guard, check_page, login
from console_support import roster_members, write_roster
from playwright.sync_api import expect

from ordinance.approvals import declines_of
from ordinance.signing import Envelope, parse_vkey
from ordinance.store._approval_tables import ApprovalStore
from ordinance.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _shots(tmp_path: Path) -> Path:
    """docs/images when ORDINANCE_WRITE_SCREENSHOTS=1 (to refresh the docs), else a tmp dir."""
    return REPO / "docs" / "images" if os.environ.get("ORDINANCE_WRITE_SCREENSHOTS") else tmp_path


def _enroll_browser_key(page: Any, base: str) -> str:
    page.goto(base + "/console/keys")
    expect(page.locator("#device-key-status")).to_contain_text("No key")
    page.get_by_role("button", name="Generate a key in this browser").click()
    expect(page.locator("#device-key-status")).to_contain_text("non-extractable Ed25519 key")
    vkey = page.input_value("#device-vkey")
    parse_vkey(vkey)  # a well-formed C2SP vkey whose key ID matches the key
    return vkey


#: Elements or attributes that would run script if model data were injected as markup
INJECTED = """() => document.querySelectorAll(
    'a[href^="javascript:" i], [onerror], [onload], [onmouseover], main script, main iframe'
).length"""


def _approve(page: Any, base: str, ref: str, comment: str) -> None:
    page.goto(base + "/console/inbox")
    page.get_by_role("link", name=f"Review and sign {ref}").click()
    page.get_by_label("Comment (recorded in the signed approval)").fill(comment)
    page.get_by_role("button", name="Sign and approve").click()
    page.wait_for_url("**/console/version?*")
    expect(page.get_by_role("status").first).to_contain_text(
        f"Approval of {ref} for production recorded"
    )


def test_approvals_signed_in_the_browser_promote_and_verify(
    server: Any, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    base, story = server.url, server.story
    model = story.model
    shots = None if story.hostile else _shots(tmp_path)
    guards = {"rita": Guard(), "vera": Guard()}
    rita_ctx, vera_ctx = chromium.new_context(), chromium.new_context()
    rita = guards["rita"].attach(rita_ctx.new_page())
    vera = guards["vera"].attach(vera_ctx.new_page())

    # -- login page (keyboard first: the skip link, then the token field), then the risk
    #    officer and the validator log in with their tokens
    rita.goto(base + "/console/login")
    check_page(rita, axe_source, shots, "login")
    rita.keyboard.press("Tab")
    assert rita.evaluate("document.activeElement.textContent") == "Skip to content"
    rita.keyboard.press("Enter")
    assert rita.evaluate("document.activeElement.id") == "main"
    rita.keyboard.press("Tab")
    assert rita.evaluate("document.activeElement.id") == "token"
    login(rita, base, story.tokens["rita"])
    login(vera, base, story.tokens["vera"])

    # -- each generates a non-extractable key in their browser; the admin enrolls both
    rita_vkey = _enroll_browser_key(rita, base)
    check_page(rita, axe_source, shots, "keys")
    vera_vkey = _enroll_browser_key(vera, base)
    assert rita.evaluate(
        """async () => {
            const db = await new Promise(r => { const q = indexedDB.open('ordinance-console', 1); q.onsuccess = () => r(q.result); });
            const rec = await new Promise(r => { const q = db.transaction('keys').objectStore('keys').get('rita@bank.example'); q.onsuccess = () => r(q.result); });
            return [rec.privateKey.extractable, rec.privateKey.algorithm.name, rec.privateKey.type];
        }"""
    ) == [False, "Ed25519", "private"]
    roster = write_roster(
        tmp_path / "roster.yaml",
        roster_members(story, {"rita@bank.example": [rita_vkey], "vera@bank.example": [vera_vkey]}),
    )
    # (the roster admin works on the server host: roster changes are not remote commands)
    unsigned = server.cli("roster", "apply", roster)
    assert unsigned.returncode == 1, unsigned.stderr  # roster admins exist: must be signed
    applied = server.cli("roster", "apply", roster, "--key", story.admin_key, "--format", "json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["changed"] is True

    # -- the risk officer finds the pending promotion in the inventory
    rita.goto(base + "/console/inventory")
    check_page(rita, axe_source, shots, "inventory")
    rita.get_by_label("Pending approvals only").check()
    rita.get_by_role("button", name="Filter").click()
    rita.wait_for_url("**pending=1**")
    pending = rita.locator("tr.pending")
    expect(pending).to_have_count(2)
    expect(pending.first).to_contain_text("awaiting risk-officer, validator")

    # -- opens the biased version: the fairness rule fails, measured against its threshold
    rita.get_by_role("link", name="1.0.0", exact=True).click()
    rule = rita.locator("tr", has=rita.locator(".rule-id", has_text="fairness-false-positive-rate"))
    expect(rule).to_contain_text("fail")
    expect(rule).to_contain_text("max: 0.1000")
    expect(rita.locator("figure.chart svg").first).to_be_visible()
    expect(rita.locator("td", has_text="included").first).to_be_visible()
    check_page(rita, axe_source, shots, "version")

    # -- the inbox lists both versions for her role; she approves the fair one from the browser
    rita.goto(base + "/console/inbox")
    expect(rita.get_by_role("link", name=f"Review and sign {model}@1.1.0")).to_be_visible()
    check_page(rita, axe_source, shots, "inbox")
    rita.get_by_role("link", name=f"Review and sign {model}@1.1.0").click()
    check_page(rita, axe_source, shots, "approve")
    _approve(rita, base, f"{model}@1.1.0", "fairness within limits; reviewed the report")
    # -- and declines the biased one, with a reason, signed in her browser the same way
    rita.goto(base + "/console/inbox")
    rita.get_by_role("link", name=f"Decline {model}@1.0.0").click()
    check_page(rita, axe_source, shots, "decline")
    rita.get_by_label("Reason (at least 10 characters; signed and recorded)").fill(
        "the postcode proxy still drives the false-positive gap"
    )
    rita.get_by_role("button", name="Sign and decline").click()
    rita.wait_for_url("**/console/version?*")
    expect(rita.get_by_role("status").first).to_contain_text(
        f"Your decline of {model}@1.0.0 for production was recorded"
    )
    expect(rita.locator("#declines + table")).to_contain_text("postcode proxy")
    expect(rita.locator("#declines + table")).to_contain_text("rita@bank.example")
    # -- the validator approves too, from his own browser
    _approve(vera, base, f"{model}@1.1.0", "independent validation complete")
    rule = vera.locator("tr", has=vera.locator(".rule-id", has_text="two-person-signoff"))
    expect(rule).to_contain_text("pass")

    # -- CI promotes (a separate process, as a CI runner)
    promoted = server.cli(
        "promote",
        f"{model}@1.1.0",
        "--to",
        "production",
        "--format",
        "json",
        token=story.tokens["ci"],
    )
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert json.loads(promoted.stdout)["outcome"] == "promoted"

    # -- history, reports and audit pages
    rita.goto(base + f"/console/history?model={model}")
    expect(rita.locator("table").first).to_contain_text("1.1.0")
    expect(rita.locator("main")).to_contain_text("the postcode proxy still drives")
    check_page(rita, axe_source, shots, "history")
    rita.goto(base + "/console/reports")
    check_page(rita, axe_source, shots, "reports")
    rita.goto(base + "/console/audit")
    check_page(rita, axe_source, shots, "audit")

    # -- the read-only pages work with JavaScript switched off (login and filters are forms)
    _without_javascript(chromium, base, model, story.tokens["vera"])

    # -- the approvals in the log are the browsers' signatures (the server holds no such key)
    ws = Workspace.open(story.home)
    try:
        rows = ApprovalStore(ws.engine()).signed(model, "1.1.0", "approval")
        log_vkey = ws.vkey()
        declines = declines_of(ws, model, "1.0.0")
        decline_keys = [
            s.keyid
            for e in ws.audit_log().entries(model=f"{model}@1.0.0")
            if e.predicate_type.endswith("/decline/v1")
            for s in Envelope.from_bytes(e.envelope).signatures
        ]
    finally:
        ws.close()
    assert sorted(r.key_id for r in rows) == sorted(
        parse_vkey(k).key_id for k in (rita_vkey, vera_vkey)
    )
    assert [d.approver for d in declines] == ["rita@bank.example"]
    assert decline_keys == [parse_vkey(rita_vkey).key_id]  # her browser's key, nothing else
    assert not any(p.suffix == ".key" and "rita" in p.name for p in story.home.rglob("*"))

    # -- and they verify: --deep on the server's log, and offline from the downloaded bundle,
    #    with nothing but the log's key (approver keys come from the log's signed roster)
    deep = server.cli("log", "verify", "--deep", "--format", "json")
    assert deep.returncode == 0, deep.stdout + deep.stderr
    assert json.loads(deep.stdout)["ok"] is True

    with rita.expect_download() as dl:
        rita.get_by_role("link", name="Download the audit bundle (.tar.gz)").click()
    archive = tmp_path / "bundle.tar.gz"
    dl.value.save_as(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    offline = server.cli(  # an auditor's machine: no workspace, no server, the bundle and a key
        "log",
        "verify",
        "--bundle",
        tmp_path / "unpacked" / "audit-bundle",
        "--vkey",
        log_vkey,
        "--deep",
        "--format",
        "json",
        offline=True,
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert json.loads(offline.stdout)["ok"] is True

    if story.hostile:
        _nothing_executes(chromium, base, model, rita, story.tokens["rita"])
    for g in guards.values():
        g.assert_clean()
    rita_ctx.close()
    vera_ctx.close()


def _nothing_executes(chromium: Any, base: str, model: str, page: Any, token: str) -> None:
    """Hostile model data stays text on every page, in the page itself: no dialog, no CSP
    report, no injected element; and the same with the CSP switched off (escaping alone)."""
    paths = [
        "/console/inventory",
        "/console/inventory?q=%3Cscript%3E",
        f"/console/version?model={model}&version=1.0.0",
        f"/console/version?model={model}&version=1.1.0",
        "/console/inbox",
        f"/console/history?model={model}",
        "/console/reports",
        f"/console/approve?model={model}&version=1.0.0&stage=production",
        f"/console/reports/card?model={model}&version=1.0.0",
        f"/console/reports/report?model={model}&version=1.0.0",
    ]
    for p in paths:
        page.goto(base + p)
        assert page.evaluate(INJECTED) == 0, p
        for cell in page.locator("td, th, dd").all()[:200]:
            if "alert" in (cell.text_content() or ""):
                cell.hover()
    page.goto(base + f"/console/version?model={model}&version=1.0.0")
    expect(page.get_by_text("javascript:alert('url')").first).to_be_visible()
    naked = chromium.new_context(bypass_csp=True)
    try:
        guard = Guard()
        p2 = guard.attach(naked.new_page())
        login(p2, base, token)
        for p in paths:
            p2.goto(base + p)
            assert p2.evaluate(INJECTED) == 0, p
        guard.assert_clean()
    finally:
        naked.close()


def test_the_guard_sees_script_that_runs(chromium: Any) -> None:
    """The in-page checks above would notice execution: a dialog, and a CSP report."""
    ctx = chromium.new_context()
    try:
        guard = Guard()
        page = guard.attach(ctx.new_page())
        page.set_content("<main><p>x</p><script>alert('ran')</script></main>")
        assert guard.dialogs == ["ran"]
        assert page.evaluate(INJECTED) == 1
    finally:
        ctx.close()


def _without_javascript(chromium: Any, base: str, model: str, token: str) -> None:
    ctx = chromium.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        login(page, base, token)
        page.get_by_label("Search").fill(model)
        page.get_by_label("Stage").select_option("production")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**stage=production**")
        expect(page.get_by_role("status")).to_contain_text("1 of 1 models shown")
        page.get_by_role("link", name="1.1.0", exact=True).click()
        expect(page.locator("h1")).to_contain_text("version 1.1.0")
        expect(page.locator("td", has_text="included").first).to_be_visible()
        for path, text in (
            (f"/console/history?model={model}", "In production now: 1.1.0"),
            ("/console/audit", "Latest checkpoint"),
            ("/console/inbox", "Approvals inbox"),
            ("/console/reports", "Portfolio"),
        ):
            page.goto(base + path)
            expect(page.locator("main")).to_contain_text(text)
    finally:
        ctx.close()

"""The ECDSA P-256 fallback in Chromium: with WebCrypto Ed25519 unavailable, the Keys page
generates a non-extractable P-256 key; once enrolled, the approval signed with it is recorded
and passes ``log verify --deep`` like an Ed25519 one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser import Guard, login
from console_support import roster_members, write_roster
from playwright.sync_api import expect

from ordinance.signing import SIGTYPE_ECDSA, parse_vkey
from ordinance.store._approval_tables import ApprovalStore
from ordinance.workspace import Workspace

pytestmark = pytest.mark.slow

#: A browser without Ed25519: generateKey refuses it, as older browsers do.
NO_ED25519 = """(() => {
  const generate = crypto.subtle.generateKey.bind(crypto.subtle);
  crypto.subtle.generateKey = (alg, ...rest) =>
    alg && alg.name === "Ed25519"
      ? Promise.reject(new DOMException("Ed25519 is not supported", "NotSupportedError"))
      : generate(alg, ...rest);
})();"""


def test_p256_fallback_signs_approvals_that_verify(
    server: Any, chromium: Any, tmp_path: Path
) -> None:
    base, story = server.url, server.story
    if story.hostile:
        pytest.skip("the fallback does not depend on model data (the plain story covers it)")
    ctx = chromium.new_context()
    ctx.add_init_script(NO_ED25519)
    guard = Guard()
    vera = guard.attach(ctx.new_page())
    login(vera, base, story.tokens["vera"])
    vera.goto(base + "/console/keys")
    vera.get_by_role("button", name="Generate a key in this browser").click()
    expect(vera.locator("#device-key-status")).to_contain_text("non-extractable ECDSA P-256 key")
    vkey = vera.input_value("#device-vkey")
    key = parse_vkey(vkey)
    assert key.sigtype == SIGTYPE_ECDSA
    assert vera.evaluate(
        """async () => {
            const db = await new Promise(r => { const q = indexedDB.open('ordinance-console', 1); q.onsuccess = () => r(q.result); });
            const rec = await new Promise(r => { const q = db.transaction('keys').objectStore('keys').get('vera@bank.example'); q.onsuccess = () => r(q.result); });
            return [rec.privateKey.extractable, rec.privateKey.algorithm.name, rec.privateKey.algorithm.namedCurve];
        }"""
    ) == [False, "ECDSA", "P-256"]
    roster = write_roster(
        tmp_path / "roster.yaml", roster_members(story, {"vera@bank.example": [vkey]})
    )
    applied = server.cli("roster", "apply", roster, "--key", story.admin_key)
    assert applied.returncode == 0, applied.stderr

    vera.goto(base + "/console/inbox")
    vera.get_by_role("link", name=f"Review and sign {story.model}@1.1.0").click()
    vera.get_by_label("Comment (recorded in the signed approval)").fill("validated (P-256)")
    vera.get_by_role("button", name="Sign and approve").click()
    vera.wait_for_url("**/console/version?*")
    expect(vera.get_by_role("status").first).to_contain_text("recorded at log entry")

    ws = Workspace.open(story.home)
    try:
        rows = ApprovalStore(ws.engine()).signed(story.model, "1.1.0", "approval")
    finally:
        ws.close()
    assert [r.key_id for r in rows] == [key.key_id]
    deep = server.cli("log", "verify", "--deep", "--format", "json")
    assert deep.returncode == 0, deep.stdout + deep.stderr
    assert json.loads(deep.stdout)["ok"] is True
    guard.assert_clean()
    ctx.close()

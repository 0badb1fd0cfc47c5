"""The console in-process (httpx TestClient): sessions, CSRF, headers, escaping, refusals."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from console_support import EVIL_DESC, EVIL_METRIC, EVIL_NAME, EVIL_OWNER, Story, build_story
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ordinance.approvals import sign_approval
from ordinance.gate import policy_digests
from ordinance.signing import load_signer
from ordinance.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return build_story(tmp_path_factory.mktemp("hostile"), hostile=True, rows=1200)


@pytest.fixture(scope="module")
def app(hostile: Story) -> Iterator[FastAPI]:
    """The server's own app (``create_app``, as ``ordinance serve`` builds it), in-process."""
    from ordinance.server import create_app

    ws = Workspace.open(hostile.home)
    ws.log_signer = ws.audit_log().signer
    a = create_app(ws)
    a.state.test_tokens = hostile.tokens
    yield a
    ws.close()


def client(app: FastAPI, token: str | None = None) -> TestClient:
    c = TestClient(app, base_url="https://testserver")
    if token is not None:
        token = app.state.test_tokens[token]
        page = c.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = c.post(
            "/console/login",
            data={"csrf": csrf.group(1), "token": token, "next": "/console/inbox"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/console/inbox"
    return c


def csrf_of(c: TestClient, path: str = "/console/inventory") -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(path).text)
    assert m is not None
    return m.group(1)


def test_pages_need_a_session(app: FastAPI) -> None:
    c = client(app)
    for path in ("/console/inventory", "/console/inbox", "/console/audit", "/console/audit/bundle"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/console/login?next=")


def test_login_refuses_bad_tokens_and_forged_forms(app: FastAPI) -> None:
    c = client(app)
    page = c.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    bad = c.post("/console/login", data={"csrf": csrf, "token": "ord_nope"}, follow_redirects=False)
    assert bad.status_code == 401 and "not valid" in bad.text
    assert "ordinance_session" not in bad.headers.get("set-cookie", "")
    forged = client(app).post(
        "/console/login",
        data={"csrf": "x", "token": app.state.test_tokens["rita"]},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    cross = c.post(
        "/console/login",
        data={"csrf": csrf, "token": app.state.test_tokens["rita"]},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert cross.status_code == 403


def test_session_cookie_and_security_headers(app: FastAPI) -> None:
    c = client(app)
    page = c.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/console/login",
        data={"csrf": csrf, "token": app.state.test_tokens["rita"]},
        follow_redirects=False,
    )
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("ordinance_session="))
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/console"):
        assert flag.lower() in cookie.lower(), cookie
    inv = c.get("/console/inventory")
    csp = inv.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert inv.headers["x-content-type-options"] == "nosniff"
    assert inv.headers["x-frame-options"] == "DENY"
    assert "<script>" not in inv.text.replace(
        '<script src="/console/static/console.js" defer></script>', ""
    )
    assert 'style="' not in inv.text  # nothing inline for the CSP to allow


def test_open_redirects_are_refused(app: FastAPI) -> None:
    c = client(app)
    for target in ("https://evil.example/", "//evil.example/console/", "/console/\\evil"):
        page = c.get("/console/login", params={"next": target})
        assert 'name="next" value="/console/inventory"' in page.text


def test_state_changes_need_the_csrf_token(app: FastAPI) -> None:
    c = client(app, "rita")
    r = c.post("/console/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/console/approve", data={"csrf": "wrong"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post(
        "/console/logout",
        data={"csrf": csrf_of(c)},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = c.post("/console/logout", data={"csrf": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/console/inventory", follow_redirects=False).status_code == 303


def test_hostile_model_data_is_escaped_everywhere(app: FastAPI, hostile: Story) -> None:
    c = client(app, "rita")
    q = {"model": EVIL_NAME, "version": "1.0.0"}
    pages = [
        c.get("/console/inventory"),
        c.get("/console/inventory", params={"q": "<script>"}),
        c.get("/console/version", params=q),
        c.get("/console/inbox"),
        c.get("/console/history"),
        c.get("/console/reports"),
        c.get("/console/approve", params={**q, "stage": "production"}),
    ]
    for r in pages:
        assert r.status_code == 200, r.text[:500]
        body = r.text
        for raw in (EVIL_OWNER, EVIL_DESC, EVIL_METRIC, "<b onmouseover"):
            assert raw not in body
        assert (
            "<script>alert" not in body and "<img src=x" not in body and "<svg onload" not in body
        )
        assert 'href="javascript:' not in body.lower()
        assert ">49<" not in body  # {{ 7*7 }} stays text
    version = pages[2].text
    assert "&lt;script&gt;alert(&#39;owner&#39;)&lt;/script&gt;{{ 7*7 }}" in version
    assert "&lt;svg onload=alert(&#39;metric&#39;)&gt;{{ 7*7 }}" in version
    assert "javascript:alert(&#39;url&#39;)" in version  # shown as text, not linked
    found = c.get("/console/inventory", params={"q": "onerror=alert"})
    assert "1 of 1 models shown" in found.text  # search matches the description, as text


def test_hostile_model_names_are_refused_at_registration(tmp_path: Path) -> None:
    from helpers import small_manifest
    from ordinance.errors import ManifestError
    from ordinance.workspace import init_workspace

    ws = init_workspace(tmp_path / ".ordinance")
    try:
        for name in ("<script>alert(1)</script>", "{{ 7*7 }}", "javascript:alert(1)"):
            manifest = small_manifest(tmp_path / "m", name=name)
            with pytest.raises(ManifestError, match=r"model\.name"):
                ws.register(manifest)
    finally:
        ws.close()


def test_documents_are_sandboxed(app: FastAPI) -> None:
    c = client(app, "rita")
    r = c.get("/console/reports/card", params={"model": EVIL_NAME, "version": "1.1.0"})
    assert r.status_code == 200
    assert "sandbox" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]
    assert "<script>alert" not in r.text


def test_a_downloaded_report_is_one_the_log_vouches_for(
    app: FastAPI, hostile: Story, tmp_path: Path
) -> None:
    """The console logs every document it hands out, like the CLI: `report verify` confirms
    the downloaded bytes, and refuses them edited."""
    from helpers import run_cli

    c = client(app, "rita")
    r = c.get(
        "/console/reports/report",
        params={"model": EVIL_NAME, "version": "1.1.0", "format": "json"},
    )
    assert r.status_code == 200
    got = tmp_path / "report.json"
    got.write_bytes(r.content)
    v = run_cli("--home", hostile.home, "report", "verify", got, "--format", "json")
    assert v.code == 0, v.err
    assert v.json()["document"] == "report" and v.json()["model"] == EVIL_NAME
    got.write_bytes(r.content.replace(b"1.1.0", b"1.1.1", 1))
    assert run_cli("--home", hostile.home, "report", "verify", got).code == 1


def test_evidence_downloads_match_their_digests(app: FastAPI, hostile: Story) -> None:
    c = client(app, "rita")
    ws = Workspace.open(hostile.home)
    try:
        v = ws.registry().get_version(EVIL_NAME, "1.0.0")
    finally:
        ws.close()
    item = v.evidence_of("predictions")[0]
    r = c.get(
        "/console/evidence", params={"model": EVIL_NAME, "version": "1.0.0", "sha256": item.sha256}
    )
    assert r.status_code == 200
    import hashlib

    assert hashlib.sha256(r.content).hexdigest() == item.sha256
    assert r.headers["content-disposition"].startswith("attachment;")
    missing = c.get(
        "/console/evidence", params={"model": EVIL_NAME, "version": "1.0.0", "sha256": "0" * 64}
    )
    assert missing.status_code == 404


def _envelope(hostile: Story, key: Path, approver: str, stage: str = "production") -> str:
    ws = Workspace.open(hostile.home)
    try:
        v = ws.registry().get_version(EVIL_NAME, "1.1.0")
        env = sign_approval(
            v,
            stage,
            load_signer(key),
            approver,
            now=datetime.now(UTC),
            policies=policy_digests(ws, stage),
            comment="ok",
        )
    finally:
        ws.close()
    return json.dumps(env.to_dict())


def _post_approval(c: TestClient, envelope: str) -> Any:
    return c.post(
        "/console/approve",
        data={
            "csrf": csrf_of(c),
            "model": EVIL_NAME,
            "version": "1.1.0",
            "stage": "production",
            "envelope": envelope,
        },
        follow_redirects=False,
    )


def test_an_approval_signed_by_someone_else_is_refused(app: FastAPI, hostile: Story) -> None:
    c = client(app, "rita")
    r = _post_approval(c, _envelope(hostile, hostile.vera_key, "vera@bank.example"))
    assert r.status_code == 403
    assert "signed by vera@bank.example but submitted by rita@bank.example" in r.text


def test_garbage_envelopes_are_input_errors(app: FastAPI) -> None:
    c = client(app, "vera")
    for bad in ("", "not json", "[]", json.dumps({"payload": "!!", "payloadType": 1})):
        r = _post_approval(c, bad)
        assert r.status_code == 400, (bad, r.status_code)


def test_the_validator_approval_is_checked_and_logged(app: FastAPI, hostile: Story) -> None:
    c = client(app, "vera")
    r = _post_approval(c, _envelope(hostile, hostile.vera_key, "vera@bank.example"))
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert "Approval of" in page.text and "recorded at log entry" in page.text
    again = _post_approval(c, _envelope(hostile, hostile.vera_key, "vera@bank.example"))
    assert again.status_code == 303  # a fresh signature (new signedAt) is a new approval
    approve_page = c.get(
        "/console/approve", params={"model": EVIL_NAME, "version": "1.1.0", "stage": "production"}
    )
    payload = re.search(r'name="payload" value="([^"]+)"', approve_page.text)
    assert payload is not None
    stmt = json.loads(base64.b64decode(payload.group(1)))
    assert stmt["predicate"]["approver"] == "vera@bank.example"
    assert stmt["predicate"]["model"] == EVIL_NAME


def test_a_reader_token_may_read_but_not_sign(app: FastAPI, hostile: Story) -> None:
    c = client(app, "reader")
    assert c.get("/console/inventory").status_code == 200
    r = _post_approval(c, _envelope(hostile, hostile.vera_key, "vera@bank.example"))
    assert r.status_code == 403 and "may not sign" in r.text


def test_a_revoked_token_ends_its_sessions(app: FastAPI, hostile: Story) -> None:
    from ordinance.tokens import TokenStore

    ws = Workspace.open(hostile.home)
    try:
        plain, tok = TokenStore(ws.engine()).create("rita@bank.example", "member")
        app.state.test_tokens["short-lived"] = plain
        c = client(app, "short-lived")
        assert c.get("/console/inventory", follow_redirects=False).status_code == 200
        TokenStore(ws.engine()).revoke(tok.token_id)
    finally:
        ws.close()
    r = c.get("/console/inventory", follow_redirects=False)
    assert r.status_code == 303 and "/console/login" in r.headers["location"]


def test_the_author_cannot_approve(app: FastAPI, hostile: Story, tmp_path: Path) -> None:
    """alice wrote the version; even with an enrolled key her approval is refused."""
    from ordinance.approvals import Roster, apply_roster, current_roster
    from ordinance.signing import generate_key

    generate_key(tmp_path / "alice.key", "alice@bank.example")
    alice = load_signer(tmp_path / "alice.key")
    ws = Workspace.open(hostile.home)
    try:
        doc = current_roster(ws).to_dict()
        doc["members"].append(
            {"id": "alice@bank.example", "name": "", "roles": ["validator"], "keys": [alice.vkey]}
        )
        apply_roster(
            ws,
            Roster.from_dict(doc),
            actor="admin",
            now=datetime.now(UTC),
            signer=load_signer(hostile.admin_key),
        )
    finally:
        ws.close()
    c = client(app, "alice")
    r = _post_approval(c, _envelope(hostile, tmp_path / "alice.key", "alice@bank.example"))
    assert r.status_code == 403
    assert "separation of duties" in r.text


def test_a_risk_officer_signs_a_waiver(app: FastAPI, hostile: Story) -> None:
    """The waiver form proposes the statement; a waiver signed by rita's key is recorded and
    the version page shows the rule as waived."""
    from ordinance.approvals import sign_waiver
    from ordinance.signing import Ed25519Signer

    c = client(app, "rita")
    rule = "fairness-false-positive-rate"
    form = c.get(
        "/console/waive",
        params={"model": EVIL_NAME, "version": "1.0.0", "rule": rule, "stage": "production"},
    )
    assert form.status_code == 200 and 'data-sign="waiver"' in form.text
    rita = Ed25519Signer.from_seed(b"\x01" * 32, "rita@bank.example/retired")  # in the roster
    ws = Workspace.open(hostile.home)
    try:
        v = ws.registry().get_version(EVIL_NAME, "1.0.0")
        now = datetime.now(UTC)
        env = sign_waiver(
            v,
            rita,
            "rita@bank.example",
            rule=rule,
            justification="incumbent needed while the proxy is removed",
            expires_at=now + timedelta(days=7),
            now=now,
            stages=["production"],
        )
    finally:
        ws.close()
    r = c.post(
        "/console/waive",
        data={
            "csrf": csrf_of(c),
            "model": EVIL_NAME,
            "version": "1.0.0",
            "stage": "production",
            "envelope": json.dumps(env.to_dict()),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert f"Waiver of {rule}" in page.text
    row = re.search(
        rf'<tr class="r-[a-z_]+">\s*<th scope="row"><span class="rule-id">{rule}</span>.*?</tr>',
        page.text,
        re.S,
    )
    assert row is not None and "by rita@bank.example" in row.group(0)


def test_a_decline_is_signed_logged_shown_and_not_counted(app: FastAPI, hostile: Story) -> None:
    """rita declines 1.0.0 for production with a (hostile) reason: the form proposes the
    statement, her signed decline is checked and logged, the version page and the history
    show it as text, and the sign-off rule still misses her role."""
    from ordinance.approvals import decline_statement
    from ordinance.approvals._base import _sign_statement
    from ordinance.signing import Ed25519Signer

    c = client(app, "rita")
    q = {"model": EVIL_NAME, "version": "1.0.0", "stage": "production"}
    form = c.get("/console/decline", params=q)
    assert form.status_code == 200 and 'data-sign="decline"' in form.text
    payload = re.search(r'name="payload" value="([^"]+)"', form.text)
    assert payload is not None
    stmt = json.loads(base64.b64decode(payload.group(1)))
    assert stmt["predicateType"] == "https://ordinance.dev/decline/v1"
    assert stmt["predicate"]["approver"] == "rita@bank.example"

    reason = "<script>alert('reason')</script> the proxy feature is still in"
    rita = Ed25519Signer.from_seed(b"\x01" * 32, "rita@bank.example/retired")  # in the roster
    ws = Workspace.open(hostile.home)
    try:
        v = ws.registry().get_version(EVIL_NAME, "1.0.0")
        signed = decline_statement(
            v,
            "production",
            "rita@bank.example",
            signed_at=datetime.now(UTC),
            policies=policy_digests(ws, "production", v),
            reason=reason,
        )
        vera_env = _sign_statement(
            {**signed, "predicate": {**signed["predicate"], "approver": "vera@bank.example"}},
            load_signer(hostile.vera_key),
        )
    finally:
        ws.close()

    def post(envelope: Any) -> Any:
        return c.post(
            "/console/decline",
            data={"csrf": csrf_of(c), **q, "envelope": json.dumps(envelope.to_dict())},
            follow_redirects=False,
        )

    someone_else = post(vera_env)
    assert someone_else.status_code == 403 and "submitted by rita@bank.example" in someone_else.text
    r = post(_sign_statement(signed, rita))
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert "Your decline of" in page.text and "recorded at log entry" in page.text
    declined = page.text.split('id="declines"', 1)[1]
    assert "&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;" in declined
    assert "<script>alert" not in page.text
    rule = re.search(
        r'<tr class="r-[a-z_]+">\s*<th scope="row"><span class="rule-id">two-person-signoff'
        r"</span>.*?</tr>",
        page.text,
        re.S,
    )
    assert rule is not None and "risk-officer" in rule.group(0)  # still missing
    history = c.get("/console/history", params={"model": EVIL_NAME})
    assert "the proxy feature is still in" in history.text and "<script>alert" not in history.text


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Story]]:
    """A story of its own (no waiver signed yet), served like ``app``."""
    from ordinance.server import create_app

    story = build_story(tmp_path_factory.mktemp("fresh"), hostile=True, rows=1200)
    ws = Workspace.open(story.home)
    ws.log_signer = ws.audit_log().signer
    a = create_app(ws)
    a.state.test_tokens = story.tokens
    yield a, story
    ws.close()


def test_waiver_requests_are_granted_by_a_signed_waiver_or_declined(
    fresh: tuple[FastAPI, Story],
) -> None:
    """alice (the author, no roster key) asks for waivers; the request is logged but waives
    nothing; rita grants one by signing a waiver that names it (a waiver granting more than
    was asked is refused) and declines the other with a reason; a reader may not ask."""
    from ordinance.approvals import sign_waiver, waiver_requests
    from ordinance.signing import Ed25519Signer

    app, hostile = fresh
    rule = "fairness-false-positive-rate"
    alice = client(app, "alice")
    q = {"model": EVIL_NAME, "version": "1.0.0", "rule": rule, "stage": "production"}
    form = alice.get("/console/waiver-request", params=q)
    assert form.status_code == 200 and 'action="/console/waiver-request"' in form.text

    def ask(c: TestClient, justification: str, days: str = "14", **over: str) -> Any:
        data = {"csrf": csrf_of(c), **q, "justification": justification, "days": days, **over}
        return c.post("/console/waiver-request", data=data, follow_redirects=False)

    assert ask(alice, "short").status_code == 400
    assert ask(alice, "a valid reason here", days="900").status_code == 400
    assert ask(client(app, "reader"), "a valid reason here").status_code == 403
    r = ask(alice, "<script>alert('just')</script> the proxy is removed in 1.1")
    assert r.status_code == 303, r.text
    page = alice.get(r.headers["location"])
    assert "It is not a waiver" in page.text
    assert "&lt;script&gt;alert(&#39;just&#39;)" in page.text and "<script>alert" not in page.text
    row = re.search(rf'<span class="rule-id">{rule}</span>.*?</tr>', page.text, re.S)
    assert row is not None and "Request a waiver" in row.group(0)  # still failing, not waived
    r2 = ask(alice, "another reason, for the record", days="7")
    assert r2.status_code == 303

    ws = Workspace.open(hostile.home)
    try:
        pending = [s for s in waiver_requests(ws, EVIL_NAME, "1.0.0") if s.status == "pending"]
        v = ws.registry().get_version(EVIL_NAME, "1.0.0")
    finally:
        ws.close()
    assert [p.request.requester for p in pending] == ["alice@bank.example"] * 2
    first, second = pending

    rita = client(app, "rita")
    inbox = rita.get("/console/inbox")
    assert first.digest in inbox.text and "Grant" in inbox.text
    grant = rita.get("/console/waiver-request/grant", params={"digest": first.digest})
    payload = re.search(r'name="payload" value="([^"]+)"', grant.text)
    assert payload is not None
    stmt = json.loads(base64.b64decode(payload.group(1)))
    assert stmt["predicate"]["request"] == {"sha256": first.digest}
    assert stmt["predicate"]["rule"] == rule and stmt["predicate"]["stages"] == ["production"]

    key = Ed25519Signer.from_seed(b"\x01" * 32, "rita@bank.example/retired")  # in the roster

    def waiver(expires: datetime) -> str:
        env = sign_waiver(
            v,
            key,
            "rita@bank.example",
            rule=rule,
            justification="granted: the proxy goes in 1.1",
            expires_at=expires,
            now=datetime.now(UTC),
            stages=["production"],
        )
        s = json.loads(env.payload)
        s["predicate"]["request"] = {"sha256": first.digest}
        from ordinance.approvals._base import _sign_statement

        return json.dumps(_sign_statement(s, key).to_dict())

    def post(envelope: str) -> Any:
        data = {
            "csrf": csrf_of(rita),
            "model": EVIL_NAME,
            "version": "1.0.0",
            "stage": "production",
            "envelope": envelope,
        }
        return rita.post("/console/waive", data=data, follow_redirects=False)

    too_long = post(waiver(first.request.expires_at + timedelta(days=1)))
    assert too_long.status_code == 400 and "later than requested" in too_long.text
    ok = post(waiver(first.request.expires_at))
    assert ok.status_code == 303, ok.text
    page = rita.get(ok.headers["location"])
    assert "granting alice@bank.example" in page.text
    row = re.search(rf'<span class="rule-id">{rule}</span>.*?</tr>', page.text, re.S)
    assert row is not None and "by rita@bank.example" in row.group(0)  # waived
    again = post(waiver(first.request.expires_at))
    assert again.status_code == 400 and "was already granted" in again.text

    decline = rita.get("/console/waiver-request/decline", params={"digest": second.digest})
    assert decline.status_code == 200
    r = rita.post(
        "/console/waiver-request/decline",
        data={"csrf": csrf_of(rita), "digest": second.digest, "reason": "fix the data instead"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    by_alice = alice.post(
        "/console/waiver-request/decline",
        data={"csrf": csrf_of(alice), "digest": second.digest, "reason": "never mind, thanks"},
        follow_redirects=False,
    )
    assert by_alice.status_code == 400 and "was already declined" in by_alice.text
    page = alice.get("/console/version", params={"model": EVIL_NAME, "version": "1.0.0"})
    section = page.text.split('id="waiver-requests"', 1)[1].split('id="declines"', 1)[0]
    assert "granted</span> by rita@bank.example" in section
    assert "declined</span> by rita@bank.example: fix the data instead" in section

"""The approvals and promotion commands end to end, through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from approvals_support import make_workspace

from helpers import run_cli, small_manifest
from ordinance.workspace import Workspace


@pytest.fixture
def cli_ws(tmp_path: Path, db_url: str) -> tuple[Workspace, list[str], dict[str, Path]]:
    ws = make_workspace(tmp_path, db_url)
    home = ["--home", str(ws.home), "--db", ws.db_url]
    for version in ("1.0.0", "2.0.0"):
        res = run_cli(*home, "register", small_manifest(tmp_path / version, version=version))
        assert res.code == 0, res.err
    keys: dict[str, Path] = {}
    vkeys: dict[str, str] = {}
    for who in ("vera", "rita", "eddie"):
        keys[who] = tmp_path / "keys" / f"{who}.key"
        res = run_cli("keys", "generate", "--name", f"{who}@example.com", "--out", keys[who])
        assert res.code == 0, res.err
        vkeys[who] = res.out.strip()
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "apiVersion: ordinance/v1\nkind: Roster\nmembers:\n"
        f"  - id: vera@example.com\n    roles: [model-validator]\n    keys: ['{vkeys['vera']}']\n"
        f"  - id: rita@example.com\n    roles: [risk-officer]\n    keys: ['{vkeys['rita']}']\n"
        f"  - id: eddie@example.com\n    roles: [ml-engineer]\n    keys: ['{vkeys['eddie']}']\n"
    )
    res = run_cli(*home, "roster", "apply", roster, "--actor", "admin")
    assert res.code == 0, res.err
    assert "+ eddie@example.com (ml-engineer)" in res.out
    yield ws, home, keys
    ws.close()


def test_cli_promotion_flow(cli_ws: tuple[Workspace, list[str], dict[str, Path]]) -> None:
    _ws, home, keys = cli_ws
    denied = run_cli(*home, "promote", "toy@1.0.0", "--to", "production", "--actor", "ci")
    assert denied.code == 1
    assert "DENIED" in denied.out and "missing: model-validator, risk-officer" in denied.out

    refused = run_cli(
        *home, "approve", "toy@1.0.0", "--stage", "production", "--key", keys["eddie"]
    )
    assert refused.code == 1
    assert "holds ml-engineer" in refused.err

    for who in ("vera", "rita"):
        res = run_cli(
            *home,
            "approve",
            "toy@1.0.0",
            "--stage",
            "production",
            "--key",
            keys[who],
            "--comment",
            "looks good",
            "--expires-in",
            "30",
        )
        assert res.code == 0, res.err
    listed = run_cli(*home, "approvals", "toy@1.0.0", "--format", "json").json()
    assert sorted(r["approver"] for r in listed) == ["rita@example.com", "vera@example.com"]

    ok = run_cli(*home, "promote", "toy@1.0.0", "--to", "production", "--format", "json")
    assert ok.code == 0, ok.err
    assert ok.json()["outcome"] == "promoted"

    # vera withdraws; 2.0.0 cannot reuse anything
    res = run_cli(
        *home,
        "approve",
        "toy@1.0.0",
        "--stage",
        "production",
        "--key",
        keys["vera"],
        "--revoke",
        "--reason",
        "changed my mind",
    )
    assert res.code == 0, res.err
    assert run_cli(*home, "approvals", "toy@1.0.0", "--format", "json").json()[0]["revoked"]
    res = run_cli(*home, "promote", "toy@2.0.0", "--to", "production")
    assert res.code == 1

    hist = run_cli(*home, "history", "toy", "--format", "json", "--proofs")
    assert hist.code == 0, hist.err
    events = hist.json()["events"]
    assert [e["kind"] for e in events] == ["denied", "promote", "denied"]
    assert all(e["proof"] for e in events)
    at = run_cli(*home, "history", "toy", "--at", "2100-01-01", "--format", "json").json()
    assert at["stages_at"]["production"] == ["1.0.0"]
    before = run_cli(*home, "history", "toy", "--at", "2000-01-01", "--format", "json").json()
    assert before["stages_at"]["production"] == [] and before["events"] == []
    text = run_cli(*home, "history", "toy", "--at", "2100-01-01")
    assert "production: 1.0.0" in text.out

    arch = run_cli(*home, "archive", "toy@2.0.0", "--actor", "ops")
    assert arch.code == 0, arch.err
    rb = run_cli(*home, "rollback", "toy", "--to", "2.0.0")
    assert rb.code == 2 and "never in production" in rb.err

    show = run_cli(*home, "roster", "show", "--format", "json").json()
    assert len(show["members"]) == 3


def test_cli_waive(cli_ws: tuple[Workspace, list[str], dict[str, Path]]) -> None:
    _ws, home, keys = cli_ws
    res = run_cli(
        *home,
        "waive",
        "toy@1.0.0",
        "--rule",
        "auc-floor",
        "--justification",
        "pilot with a known low auc",
        "--expires",
        "2100-01-01",
        "--key",
        keys["rita"],
    )
    assert res.code == 0, res.err
    res = run_cli(
        *home,
        "waive",
        "toy@1.0.0",
        "--rule",
        "auc-floor",
        "--justification",
        "pilot with a known low auc",
        "--expires",
        "2100-01-01",
        "--key",
        keys["vera"],
    )
    assert res.code == 1 and "waivers need one of risk-officer" in res.err
    res = run_cli(*home, "approvals", "toy", "--format", "json")
    digest = res.json()[0]["digest"]
    res = run_cli(*home, "revoke", "toy@1.0.0", "--digest", digest, "--key", keys["rita"])
    assert res.code == 0, res.err


def test_cli_bad_roster_is_located(
    cli_ws: tuple[Workspace, list[str], dict[str, Path]], tmp_path: Path
) -> None:
    _, home, _ = cli_ws
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: ordinance/v1\nkind: Roster\nmembers:\n  - id: x\n    keys: [nope]\n"
    )
    res = run_cli(*home, "roster", "apply", bad)
    assert res.code == 2
    assert f"{bad}:5:" in res.err and "malformed verifier key" in res.err


def test_cli_decline(cli_ws: tuple[Workspace, list[str], dict[str, Path]]) -> None:
    """A decline is signed like an approval, logged with its reason, verified by --deep,
    and never counted as an approval."""
    from ordinance.approvals import declines_of

    ws, home, keys = cli_ws
    reason = "the fairness gap on age is not explained"

    def decline(who: str, why: str = reason) -> object:
        return run_cli(
            *home, "decline", "toy@1.0.0", "--stage", "production", "--reason", why,
            "--key", keys[who], "--format", "json",
        )  # fmt: skip

    eddie = decline("eddie")
    assert eddie.code == 1 and "holds ml-engineer" in eddie.err  # type: ignore[attr-defined]
    short = decline("rita", "no")
    assert short.code == 1 and "at least 10 characters" in short.err  # type: ignore[attr-defined]
    rita = decline("rita")
    assert rita.code == 0, rita.err  # type: ignore[attr-defined]
    rec = rita.json()  # type: ignore[attr-defined]
    assert (rec["kind"], rec["approver"], rec["stage"], rec["reason"]) == (
        "decline", "rita@example.com", "production", reason,
    )  # fmt: skip

    # vera approved: her decline is refused until she revokes the approval
    ok = run_cli(*home, "approve", "toy@1.0.0", "--stage", "production", "--key", keys["vera"])
    assert ok.code == 0, ok.err
    vera = decline("vera")
    assert vera.code == 1 and "revoke that approval first" in vera.err  # type: ignore[attr-defined]

    # the decline is not an approval: the gate still misses the risk officer
    denied = run_cli(*home, "promote", "toy@1.0.0", "--to", "production", "--actor", "ci")
    assert denied.code == 1 and "missing: risk-officer" in denied.out

    read = declines_of(ws, "toy", "1.0.0")
    assert [(d.approver, d.reason, d.log_index) for d in read] == [
        ("rita@example.com", reason, rec["log_index"])
    ]
    deep = run_cli(*home, "log", "verify", "--deep", "--format", "json")
    assert deep.code == 0, deep.out + deep.err
    assert deep.json()["ok"] is True


def test_deep_verify_refuses_a_decline_signed_by_someone_else(
    cli_ws: tuple[Workspace, list[str], dict[str, Path]],
) -> None:
    from datetime import UTC, datetime

    from ordinance.approvals import decline_statement
    from ordinance.approvals._base import _sign_statement
    from ordinance.signing import load_signer

    ws, home, keys = cli_ws
    v = ws.registry().get_version("toy", "1.0.0")
    stmt = decline_statement(
        v,
        "production",
        "rita@example.com",
        signed_at=datetime.now(UTC),
        policies={},
        reason="forged in rita's name by eddie",
    )
    env = _sign_statement(stmt, load_signer(keys["eddie"]))
    ws.audit_log().append_envelopes([env.to_bytes()])
    deep = run_cli(*home, "log", "verify", "--deep")
    assert deep.code == 1
    assert "decline names rita@example.com but is signed by eddie@example.com's key" in (
        deep.out + deep.err
    )


def test_waiver_requests_verify_deep_and_a_forged_grant_is_caught(
    cli_ws: tuple[Workspace, list[str], dict[str, Path]],
) -> None:
    """A request, its grant (a waiver naming it) and a declined request pass --deep; a waiver
    claiming to grant a request the log never held fails it."""
    import json
    from datetime import UTC, datetime, timedelta

    from ordinance.approvals import (
        check_grant,
        decline_waiver_request,
        record_waiver,
        request_waiver,
        sign_waiver,
        waiver_requests,
    )
    from ordinance.approvals._base import _sign_statement
    from ordinance.signing import load_signer

    ws, home, keys = cli_ws
    now = datetime.now(UTC)
    asked = [
        request_waiver(
            ws,
            "toy",
            "1.0.0",
            rule,
            requester="eddie@example.com",
            justification="pilot with a known low auc",
            expires_at=now + timedelta(days=10),
            stages=["production"],
            now=now,
        )
        for rule in ("auc-floor", "other-rule")
    ]
    rita = load_signer(keys["rita"])
    v = ws.registry().get_version("toy", "1.0.0")

    def grant(digest: str) -> object:
        env = sign_waiver(
            v, rita, "rita@example.com", rule="auc-floor", justification="granted for the pilot",
            expires_at=now + timedelta(days=10), now=now, stages=["production"],
        )  # fmt: skip
        stmt = json.loads(env.payload)
        stmt["predicate"]["request"] = {"sha256": digest}
        return _sign_statement(stmt, rita)

    env = grant(asked[0].digest)
    assert check_grant(ws, env) is not None  # type: ignore[arg-type]
    record_waiver(ws, env, model="toy", version="1.0.0", now=now)  # type: ignore[arg-type]
    decline_waiver_request(
        ws, asked[1].digest, reviewer="rita@example.com", reason="not a real rule", now=now
    )
    states = {s.request.rule: s.status for s in waiver_requests(ws, "toy")}
    assert states == {"auc-floor": "granted", "other-rule": "declined"}
    ok = run_cli(*home, "log", "verify", "--deep")
    assert ok.code == 0, ok.out + ok.err

    forged = grant("ab" * 32)  # bypasses check_grant: only --deep stands between
    record_waiver(ws, forged, model="toy", version="1.0.0", now=now)  # type: ignore[arg-type]
    bad = run_cli(*home, "log", "verify", "--deep")
    assert bad.code == 1
    assert "no earlier request for that rule and version" in bad.out + bad.err


def test_an_ecdsa_p256_approver_key_signs_approvals_that_verify_deep(
    cli_ws: tuple[Workspace, list[str], dict[str, Path]], tmp_path: Path
) -> None:
    """The browsers' fallback: an ECDSA P-256 key (vkey type 0x02, DER SPKI, key ID
    SHA-256(SPKI)[:4]) enrolled by a roster change signs a DSSE approval (raw r||s) that is
    recorded and passes --deep; a signature by another P-256 key is refused."""
    import base64
    import hashlib
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from ordinance._canonical import canonical_json
    from ordinance.approvals import ApprovalRefused, approval_statement, record_approval
    from ordinance.gate import policy_digests
    from ordinance.signing import SIGTYPE_ECDSA, Envelope, pae, parse_vkey

    ws, home, _keys = cli_ws

    def p256() -> tuple[ec.EllipticCurvePrivateKey, str]:
        priv = ec.generate_private_key(ec.SECP256R1())
        spki = priv.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = hashlib.sha256(spki).hexdigest()[:8]
        return priv, f"rita@example.com+{kid}+{base64.b64encode(bytes([2]) + spki).decode()}"

    priv, vkey = p256()
    other, _ = p256()
    key = parse_vkey(vkey)
    assert key.sigtype == SIGTYPE_ECDSA and key.vkey == vkey
    roster = (tmp_path / "roster.yaml").read_text()  # the fixture's
    (tmp_path / "roster.yaml").write_text(roster.replace("keys: ['rita", f"keys: ['{vkey}', 'rita"))
    applied = run_cli(*home, "roster", "apply", tmp_path / "roster.yaml", "--actor", "admin")
    assert applied.code == 0, applied.err

    v = ws.registry().get_version("toy", "1.0.0")
    now = datetime.now(UTC)
    stmt = approval_statement(
        v, "production", "rita@example.com", signed_at=now,
        policies=policy_digests(ws, "production", v),
    )  # fmt: skip
    payload = canonical_json(stmt)

    def envelope(signer: ec.EllipticCurvePrivateKey) -> Envelope:
        der = signer.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return Envelope.from_dict(
            {
                "payload": base64.b64encode(payload).decode(),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(sig).decode()}],
            }
        )

    with pytest.raises(ApprovalRefused, match="unknown key"):
        record_approval(ws, envelope(other), model="toy", version="1.0.0", stage="production", now=now)  # fmt: skip
    rec = record_approval(
        ws, envelope(priv), model="toy", version="1.0.0", stage="production", now=now
    )
    assert rec.approver == "rita@example.com" and "risk-officer" in rec.roles
    deep = run_cli(*home, "log", "verify", "--deep", "--format", "json")
    assert deep.code == 0, deep.out + deep.err

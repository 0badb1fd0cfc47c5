"""Attestations: the VSA of the latest decision, and the consumer checks against forgeries."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from approvals_support import HOUR, T0, People

from helpers import run_cli
from ordinance import promote, uris
from ordinance._canonical import canonical_json
from ordinance.approvals import approve
from ordinance.attest import attestation, verify_attestation
from ordinance.errors import NotFoundError
from ordinance.signing import PAYLOAD_TYPE_INTOTO, Ed25519Signer, Envelope, sign_envelope
from ordinance.workspace import Workspace


@pytest.fixture
def promoted(ws: Workspace, people: People) -> Workspace:
    approve(ws, "toy", "1.0.0", "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    assert promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR).allowed
    return ws


def _digest(ws: Workspace, version: str = "1.0.0") -> str:
    return ws.registry().get_version("toy", version).identity.sha256


def test_genuine_attestation_verifies(promoted: Workspace) -> None:
    ws = promoted
    env = attestation(ws, "toy", "1.0.0")
    report = verify_attestation(
        env,
        ws.vkey(),
        model_digest=_digest(ws),
        expect_levels=["ORDINANCE_POLICY_PROD_GATE"],
        resource_uri="models:/toy/1.0.0",
    )
    assert report.ok, report.to_dict()
    assert [c.ok for c in report.checks] == [True] * 7


def test_no_decision_no_attestation(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no promotion decision"):
        attestation(ws, "toy", "2.0.0")


def _statement(env: bytes) -> dict[str, object]:
    return json.loads(Envelope.from_bytes(env).payload)  # type: ignore[no-any-return]


def test_forged_vsa_signed_by_another_key_is_rejected(promoted: Workspace) -> None:
    ws = promoted
    stmt = _statement(attestation(ws, "toy", "1.0.0"))
    stmt["subject"] = [{"name": "toy@2.0.0", "digest": {"sha256": _digest(ws, "2.0.0")}}]
    stmt["predicate"]["resourceUri"] = "models:/toy/2.0.0"  # type: ignore[index]
    # the attacker even reuses the log's key name; the key itself differs
    attacker = Ed25519Signer.generate(ws.config.log_origin)
    forged = sign_envelope(canonical_json(stmt), PAYLOAD_TYPE_INTOTO, [attacker]).to_bytes()
    report = verify_attestation(forged, ws.vkey(), model_digest=_digest(ws, "2.0.0"))
    assert not report.ok
    assert report.failure is not None and report.failure.name == "signature"
    assert [c.ok for c in report.checks][1:] == [None] * 6


def test_tampered_payload_is_rejected(ws: Workspace, people: People) -> None:
    d = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + HOUR)  # denied: FAILED VSA
    assert not d.allowed
    env = attestation(ws, "toy", "1.0.0")
    report = verify_attestation(env, ws.vkey(), model_digest=_digest(ws))
    assert report.failure is not None and report.failure.name == "result"
    # flip FAILED to PASSED inside the signed payload, keep the signature
    obj = json.loads(env)
    payload = base64.b64decode(obj["payload"]).replace(b'"FAILED"', b'"PASSED"')
    obj["payload"] = base64.b64encode(payload).decode()
    report = verify_attestation(json.dumps(obj).encode(), ws.vkey(), model_digest=_digest(ws))
    assert report.failure is not None and report.failure.name == "signature"


def test_each_consumer_check_can_fail(promoted: Workspace) -> None:
    ws = promoted
    env = attestation(ws, "toy", "1.0.0")
    r = verify_attestation(env, ws.vkey(), model_digest=_digest(ws, "2.0.0"))
    assert r.failure is not None and r.failure.name == "subject"
    r = verify_attestation(env, ws.vkey(), verifier_id="https://other.example/verifier")
    assert r.failure is not None and r.failure.name == "verifier"
    r = verify_attestation(env, ws.vkey(), resource_uri="models:/toy/2.0.0")
    assert r.failure is not None and r.failure.name == "resourceUri"
    r = verify_attestation(env, ws.vkey(), expect_levels=["SLSA_BUILD_LEVEL_3"])
    assert r.failure is not None and r.failure.name == "levels"


def test_signed_non_vsa_is_rejected(promoted: Workspace) -> None:
    ws = promoted
    entries = list(ws.audit_log().entries(predicate_type=uris.TRANSITION))
    r = verify_attestation(entries[-1].envelope, ws.vkey(), model_digest=_digest(ws))
    assert r.failure is not None and r.failure.name == "predicateType"


def test_cli_attest_and_verify(promoted: Workspace, tmp_path: Path) -> None:
    ws = promoted
    home = ["--home", str(ws.home), "--db", ws.db_url]
    out = tmp_path / "toy.vsa.json"
    res = run_cli(*home, "attest", "toy@1.0.0", "--out", out)
    assert res.code == 0, res.err
    vkey_file = ws.log_vkey_path
    ok = run_cli(
        "verify-attestation",
        out,
        "--vkey",
        vkey_file,
        "--model-digest",
        _digest(ws),
        "--expect-level",
        "ORDINANCE_POLICY_PROD_GATE",
        "--format",
        "json",
    )
    assert ok.code == 0, ok.err
    assert ok.json()["ok"] is True
    bad = run_cli("verify-attestation", out, "--vkey", ws.vkey(), "--model-digest", "ab" * 32)
    assert bad.code == 1
    assert "attestation rejected: subject" in bad.err
    forged = tmp_path / "forged.json"
    attacker = Ed25519Signer.generate(ws.config.log_origin)
    forged.write_bytes(
        sign_envelope(
            Envelope.from_bytes(out.read_bytes().strip()).payload, PAYLOAD_TYPE_INTOTO, [attacker]
        ).to_bytes()
    )
    res = run_cli("verify-attestation", forged, "--vkey", ws.vkey())
    assert res.code == 1 and "signature" in res.err

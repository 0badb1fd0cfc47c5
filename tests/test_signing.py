"""Keys, signers, verifiers and DSSE envelopes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from docket._canonical import canonical_json
from docket.errors import InfrastructureError, InputError, VerificationError
from docket.signing import (
    PAYLOAD_TYPE_INTOTO,
    SIGTYPE_COSIGNATURE_V1,
    Ed25519Signer,
    Envelope,
    Signer,
    generate_key,
    load_signer,
    parse_vkey,
    read_vkey,
    sign_envelope,
    verify_envelope,
    vkey_path_for,
)


def test_generate_key_private_0600_and_vkey(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.key"
    vkey = generate_key(path, "docket.local/acme")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vkey_path_for(path) == tmp_path / "keys" / "log.vkey"
    assert read_vkey(vkey_path_for(path)).vkey == vkey
    signer = load_signer(path)
    assert isinstance(signer, Signer)
    assert signer.vkey == vkey
    assert signer.name == "docket.local/acme"
    assert len(signer.key_id) == 8
    assert b"PRIVATE KEY" in path.read_bytes()


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    generate_key(path, "a")
    before = path.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        generate_key(path, "a")
    assert path.read_bytes() == before


def test_passphrase_encryption(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    vkey = generate_key(path, "enc", passphrase="correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    with pytest.raises(InputError, match="passphrase"):
        load_signer(path)
    with pytest.raises(InputError):
        load_signer(path, "wrong")
    assert load_signer(path, b"correct horse").vkey == vkey


def test_cosigner_key_type(tmp_path: Path) -> None:
    path = tmp_path / "w.key"
    vkey = generate_key(path, "witness.example", sigtype=SIGTYPE_COSIGNATURE_V1)
    key = parse_vkey(vkey)
    assert key.sigtype == SIGTYPE_COSIGNATURE_V1
    assert load_signer(path).sigtype == SIGTYPE_COSIGNATURE_V1


def test_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError):
        load_signer(tmp_path / "missing.key")
    junk = tmp_path / "junk.key"
    junk.write_text("hello\n")
    with pytest.raises(InputError):
        load_signer(junk)
    with pytest.raises(InputError):
        Ed25519Signer.generate("has space")
    with pytest.raises(InputError):
        Ed25519Signer.generate("has+plus")


def test_dsse_roundtrip_and_tamper() -> None:
    a = Ed25519Signer.generate("alice")
    b = Ed25519Signer.generate("bob")
    env = sign_envelope(b'{"x":1}', PAYLOAD_TYPE_INTOTO, [a, b])
    raw = env.to_bytes()
    assert raw == canonical_json(env.to_dict())
    back = Envelope.from_bytes(raw)
    assert back == env
    assert verify_envelope(back, [a.verifier, b.verifier], threshold=2) == b'{"x":1}'
    with pytest.raises(VerificationError):
        verify_envelope(back, [a.verifier], threshold=2)
    with pytest.raises(VerificationError):
        verify_envelope(back, [Ed25519Signer.generate("carol").verifier])
    forged = Envelope(b'{"x":2}', env.payload_type, env.signatures)
    with pytest.raises(VerificationError):
        verify_envelope(forged, [a.verifier])
    with pytest.raises(VerificationError):
        verify_envelope(back, [a.verifier], payload_type="text/plain")


def test_dsse_accepts_urlsafe_base64() -> None:
    a = Ed25519Signer.generate("alice")
    env = sign_envelope(b"\xfb\xff\xfe" * 10, "application/x", [a])
    d = env.to_dict()
    d["payload"] = d["payload"].replace("+", "-").replace("/", "_").rstrip("=")
    d["signatures"][0]["sig"] = d["signatures"][0]["sig"].replace("+", "-").replace("/", "_")
    assert verify_envelope(Envelope.from_dict(d), [a.verifier]) == b"\xfb\xff\xfe" * 10


def test_malformed_envelopes() -> None:
    for raw in [
        b"nope",
        b"[]",
        b'{"payload":"!!","payloadType":"x","signatures":[]}',
        b'{"payloadType":"x","signatures":[]}',
    ]:
        with pytest.raises(InputError):
            Envelope.from_bytes(raw)
    with pytest.raises(InputError):
        sign_envelope(b"x", "t", [])

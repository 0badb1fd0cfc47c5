"""Keys, signers, verifiers and DSSE envelopes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ordinance._canonical import canonical_json
from ordinance.errors import InfrastructureError, InputError, VerificationError
from ordinance.signing import (
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
    vkey = generate_key(path, "ordinance.local/acme")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vkey_path_for(path) == tmp_path / "keys" / "log.vkey"
    assert read_vkey(vkey_path_for(path)).vkey == vkey
    signer = load_signer(path)
    assert isinstance(signer, Signer)
    assert signer.vkey == vkey
    assert signer.name == "ordinance.local/acme"
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


# --------------------------------------------------------------------------- libsodium vs OpenSSL

# the order of the Ed25519 group, for a non-canonical S (S + L encodes the same scalar)
_L = 2**252 + 27742317777372353535851937790883648493


def _ed25519_cases() -> list[tuple[str, bytes, bytes, bytes]]:
    """(label, public key, message, signature): valid ones and many kinds of invalid ones."""
    import hashlib

    cases: list[tuple[str, bytes, bytes, bytes]] = []
    for i in range(8):
        seed = hashlib.sha256(b"agree-%d" % i).digest()
        signer = Ed25519Signer.from_seed(seed, "agree.example/k")
        other = Ed25519Signer.from_seed(hashlib.sha256(seed).digest(), "agree.example/k")
        pk = signer.public_key
        msg = b"message %d " % i * (i + 1)
        sig = signer.sign(msg)
        cases.append(("valid", pk, msg, sig))
        cases.append(("empty message", pk, b"", signer.sign(b"")))
        for bit in (0, 7, 100, 255, 256, 300, 511):
            bad = bytearray(sig)
            bad[bit // 8] ^= 1 << (bit % 8)
            cases.append((f"sig bit {bit}", pk, msg, bytes(bad)))
        cases.append(("message changed", pk, msg + b"!", sig))
        cases.append(("other key", other.public_key, msg, sig))
        cases.append(("short sig", pk, msg, sig[:63]))
        cases.append(("long sig", pk, msg, sig + b"\0"))
        cases.append(("empty sig", pk, msg, b""))
        cases.append(("short key", pk[:31], msg, sig))
        s = int.from_bytes(sig[32:], "little") + _L
        cases.append(("non-canonical S", pk, msg, sig[:32] + s.to_bytes(32, "little")))
        cases.append(("zero sig", pk, msg, bytes(64)))
    small_order = bytes([1]) + bytes(31)  # the identity point
    cases.append(("small-order key", small_order, b"x", bytes(64)))
    cases.append(("small-order key, R=identity", small_order, b"x", small_order + bytes(32)))
    cases.append(("non-canonical key", b"\xff" * 32, b"x", bytes(64)))
    return cases


def test_libsodium_agrees_with_cryptography() -> None:
    from ordinance.signing import ed25519_verify, ed25519_verify_reference

    cases = _ed25519_cases()
    valid = 0
    for label, pk, msg, sig in cases:
        fast, ref = ed25519_verify(pk, msg, sig), ed25519_verify_reference(pk, msg, sig)
        assert fast == ref, f"{label}: libsodium {fast}, cryptography {ref}"
        valid += fast
    # exactly the "valid" and "empty message" cases, plus the one OpenSSL accepts: a
    # small-order key with R = identity and S = 0 (valid for any message under that key)
    assert valid == 17


def test_libsodium_is_never_laxer_than_cryptography() -> None:
    """The fast path trusts libsodium's "valid": it must imply the reference's "valid"."""
    from ordinance.signing import _sodium_verify, ed25519_verify_reference

    stricter = []
    for label, pk, msg, sig in _ed25519_cases():
        fast, ref = _sodium_verify(pk, msg, sig), ed25519_verify_reference(pk, msg, sig)
        assert ref or not fast, f"{label}: libsodium accepts what cryptography refuses"
        if ref and not fast:
            stricter.append(label)
    assert stricter == ["small-order key, R=identity"]


def test_libsodium_agrees_on_the_note_vectors(shared: Path) -> None:
    import base64
    import json

    from ordinance.log.note import SignedNote
    from ordinance.signing import ed25519_verify, ed25519_verify_reference

    data = json.loads((shared / "vectors" / "signed_note.json").read_text())
    keys = {k["id"]: parse_vkey(k["vkey"]) for k in data["keys"]}
    checked = 0
    for item in data["notes"] + data["checkpoints"]:
        note = SignedNote.parse(item["signed_note"])
        key = keys[item["key"]]
        msg = note.text.encode()
        for s in note.signatures:
            if s.key_id != key.key_id_bytes:
                continue
            for m, sig in ((msg, s.signature), (msg + b"x", s.signature)):
                fast = ed25519_verify(key.public_key, m, sig)
                assert fast == ed25519_verify_reference(key.public_key, m, sig)
                assert key.verify(m, sig) == key.verify_reference(m, sig) == fast
            assert key.verify(msg, s.signature)
            checked += 1
    assert checked >= len(data["notes"])
    for c in data["cosignature_timestamps"]:
        assert len(base64.b64decode(c["sig_b64"])) == 76

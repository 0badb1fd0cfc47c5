"""Every public test vector in ../shared/vectors: RFC 6962, signed notes, tlog-proof, DSSE."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from ordinance.errors import InputError, VerificationError
from ordinance.log import merkle
from ordinance.log.note import Checkpoint, SignedNote, verify_note
from ordinance.log.proof import TlogProof
from ordinance.signing import (
    EcdsaP256Verifier,
    Ed25519Signer,
    Envelope,
    pae,
    parse_vkey,
    verify_envelope,
)


def _load(shared: Path, name: str) -> Any:
    return json.loads((shared / "vectors" / name).read_text())


@pytest.fixture(scope="module")
def mvec(shared: Path) -> Any:
    return _load(shared, "merkle_rfc6962.json")


def _h(x: str) -> bytes:
    return bytes.fromhex(x)


# --------------------------------------------------------------------------- RFC 6962


def test_hasher_vectors(mvec: Any) -> None:
    for v in mvec["hasher"]:
        if v["kind"] == "empty_root":
            assert merkle.EMPTY_ROOT.hex() == v["expected"]
        elif v["kind"] == "leaf":
            assert merkle.leaf_hash(_h(v["input"])).hex() == v["expected"]
        else:
            assert merkle.node_hash(_h(v["left"]), _h(v["right"])).hex() == v["expected"]


def _leaf_hashes(mvec: Any) -> list[bytes]:
    return merkle.leaf_hashes([_h(x) for x in mvec["tree"]["leaf_inputs"]])


def test_roots_by_size(mvec: Any) -> None:
    lhs = _leaf_hashes(mvec)
    for size, want in enumerate(mvec["tree"]["root_hashes_by_size"]):
        assert merkle.root(lhs[:size]).hex() == want


def test_node_hashes_by_level(mvec: Any) -> None:
    levels = merkle.build_levels(_leaf_hashes(mvec))
    for lvl, nodes in enumerate(mvec["tree"]["node_hashes_by_level"]):
        assert [h.hex() for h in levels[lvl]] == nodes


def _lookup(lhs: list[bytes]) -> dict[merkle.Node, bytes]:
    return {
        (lvl, i): h for lvl, hs in enumerate(merkle.build_levels(lhs)) for i, h in enumerate(hs)
    }


def test_reference_inclusion_proofs_generated(mvec: Any) -> None:
    lhs = _leaf_hashes(mvec)
    nodes = _lookup(lhs)
    for v in mvec["reference_inclusion_proofs"]:
        got = merkle.resolve(merkle.inclusion_plan(v["leaf_index"], v["tree_size"]), nodes)
        assert [h.hex() for h in got] == v["proof"]
        root = merkle.root(lhs[: v["tree_size"]])
        assert merkle.verify_inclusion(
            v["leaf_index"], v["tree_size"], lhs[v["leaf_index"]], got, root
        )


def test_reference_consistency_proofs_generated(mvec: Any) -> None:
    lhs = _leaf_hashes(mvec)
    nodes = _lookup(lhs)
    for v in mvec["reference_consistency_proofs"]:
        got = merkle.resolve(merkle.consistency_plan(v["size1"], v["size2"]), nodes)
        assert [h.hex() for h in got] == v["proof"]
        r1, r2 = merkle.root(lhs[: v["size1"]]), merkle.root(lhs[: v["size2"]])
        assert merkle.verify_consistency(v["size1"], v["size2"], got, r1, r2)


def test_all_inclusion_probes(mvec: Any) -> None:
    probes = mvec["inclusion_probes"]
    assert len(probes) >= 98
    for p in probes:
        ok = merkle.verify_inclusion(
            p["leaf_index"],
            p["tree_size"],
            _h(p["leaf_hash"]),
            [_h(x) for x in p["proof"]],
            _h(p["root"]),
        )
        assert ok is (not p["want_error"]), (p["file"], p["desc"])


def test_all_consistency_probes(mvec: Any) -> None:
    probes = mvec["consistency_probes"]
    assert len(probes) >= 98
    for p in probes:
        ok = merkle.verify_consistency(
            p["size1"], p["size2"], [_h(x) for x in p["proof"]], _h(p["root1"]), _h(p["root2"])
        )
        assert ok is (not p["want_error"]), (p["file"], p["desc"])


def _naive_mth(d: list[bytes]) -> bytes:
    if not d:
        return merkle.EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return merkle.node_hash(_naive_mth(d[:k]), _naive_mth(d[k:]))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_proofs_roundtrip_property(n: int, data: st.DataObject) -> None:
    lhs = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    nodes = _lookup(lhs)
    root = merkle.root(lhs)
    assert root == _naive_mth(lhs)
    created, frontier = merkle.append_leaves(0, [], lhs)
    assert merkle.fold(frontier) == root
    assert all(nodes[(lv, ix)] == h for lv, ix, h in created)
    i = data.draw(st.integers(0, n - 1))
    path = merkle.resolve(merkle.inclusion_plan(i, n), nodes)
    assert merkle.verify_inclusion(i, n, lhs[i], path, root)
    assert not merkle.verify_inclusion(i, n, lhs[(i + 1) % n], path, root) or n == 1
    m = data.draw(st.integers(1, n))
    proof = merkle.resolve(merkle.consistency_plan(m, n), nodes)
    assert merkle.verify_consistency(m, n, proof, merkle.root(lhs[:m]), root)
    # incremental append from a frontier gives the same tree
    split = data.draw(st.integers(0, n))
    _, f1 = merkle.append_leaves(0, [], lhs[:split])
    created2, f2 = merkle.append_leaves(split, f1, lhs[split:])
    assert merkle.fold(f2) == root
    assert all(nodes[(lv, ix)] == h for lv, ix, h in created2)


# --------------------------------------------------------------------------- signed notes


@pytest.fixture(scope="module")
def nvec(shared: Path) -> Any:
    return _load(shared, "signed_note.json")


def test_vkeys_parse_and_key_ids(nvec: Any) -> None:
    for k in nvec["keys"]:
        key = parse_vkey(k["vkey"])
        assert key.vkey == k["vkey"]


def test_invalid_vkeys_rejected(nvec: Any) -> None:
    for k in nvec["invalid_vkeys"]:
        with pytest.raises(InputError):
            parse_vkey(k["vkey"])


def test_notes_verify_and_tamper(nvec: Any) -> None:
    keys = {k["id"]: parse_vkey(k["vkey"]) for k in nvec["keys"]}
    for n in nvec["notes"]:
        note = SignedNote.parse(n["signed_note"])
        assert note.text == n["text"]
        assert note.render() == n["signed_note"]
        assert verify_note(note, [keys[n["key"]]]) == [keys[n["key"]]]
        # unknown keys are ignored; no trusted key fails
        others = [k for kid, k in keys.items() if kid != n["key"]]
        with pytest.raises(VerificationError):
            verify_note(note, others)
        bad = SignedNote(note.text.replace("a", "b", 1), note.signatures)
        with pytest.raises(VerificationError):
            verify_note(bad, [keys[n["key"]]])


def test_go_skey_resigns_exactly(nvec: Any) -> None:
    from ordinance.log.note import sign_note

    peter = next(k for k in nvec["keys"] if k["id"] == "peter")
    name, _kid, blob = peter["skey"].removeprefix("PRIVATE+KEY+").split("+", 2)
    raw = base64.b64decode(blob)
    assert raw[0] == 1
    signer = Ed25519Signer.from_seed(raw[1:], name)
    assert signer.vkey == peter["vkey"]
    note = next(n for n in nvec["notes"] if n["key"] == "peter")
    assert sign_note(note["text"], [signer]).render() == note["signed_note"]


def test_sumdb_checkpoint_with_extra_signers(nvec: Any) -> None:
    keys = {k["id"]: parse_vkey(k["vkey"]) for k in nvec["keys"]}
    for c in nvec["checkpoints"]:
        note = SignedNote.parse(c["signed_note"])
        cp = Checkpoint.from_text(note.text)
        assert (cp.origin, cp.size) == (c["origin"], c["tree_size"])
        assert cp.root == base64.b64decode(c["root_hash_b64"])
        assert cp.text() == c["text"]
        verify_note(note, [keys[c["key"]]])
        extra = [NoteLine for NoteLine in c["extra_signature_lines"]]
        full = SignedNote.parse(c["signed_note"] + "".join(x["line"] + "\n" for x in extra))
        got = verify_note(full, [keys[c["key"]]] + [keys[x["key"]] for x in extra])
        assert len(got) == 1 + len(extra)
        # unknown extra lines are ignored when only the log key is trusted
        assert verify_note(full, [keys[c["key"]]]) == [keys[c["key"]]]


def test_cosignature_timestamp_blob(nvec: Any) -> None:
    for c in nvec["cosignature_timestamps"]:
        blob = base64.b64decode(c["sig_b64"])
        assert len(blob) == 4 + 8 + 64
        assert struct.unpack(">Q", blob[4:12])[0] == c["timestamp"]


def test_malformed_notes_rejected() -> None:
    for bad in [
        "no signatures\n",
        "text\n\n",
        "text\n\n— name\n",
        "te\x01xt\n\n— a AAAAAAAA\n",
        "text\n\n— a b+c AAAA\n",
    ]:
        with pytest.raises(InputError):
            SignedNote.parse(bad)


# --------------------------------------------------------------------------- tlog-proof


def test_tlog_proof_marshal(shared: Path) -> None:
    vec = _load(shared, "tlog_proof.json")
    for m in vec["marshal"]:
        p = TlogProof(
            m["index"],
            tuple(base64.b64decode(h) for h in m["hashes_b64"]),
            m["checkpoint"],
            base64.b64decode(m["extra_b64"]) if m["extra_b64"] else None,
        )
        assert p.render() == m["want"]
        assert TlogProof.parse(m["want"]) == p


def test_tlog_proof_unmarshal_errors(shared: Path) -> None:
    vec = _load(shared, "tlog_proof.json")
    for m in vec["unmarshal_errors"]:
        with pytest.raises(InputError):
            TlogProof.parse(m["input"])


# --------------------------------------------------------------------------- DSSE


def test_dsse_pae(shared: Path) -> None:
    vec = _load(shared, "dsse_pae.json")
    for v in vec["pae_vectors"]:
        assert pae(v["payload_type"], v["payload_utf8"].encode()) == v["pae_utf8"].encode()


def test_dsse_ecdsa_envelope(shared: Path) -> None:
    vec = _load(shared, "dsse_pae.json")
    for v in vec["signature_vectors"]:
        pub = ec.EllipticCurvePublicNumbers(
            int(v["public_x_dec"]), int(v["public_y_dec"]), ec.SECP256R1()
        ).public_key()
        env = Envelope.from_dict(v["envelope"])
        # straight cryptography: raw r||s over PAE
        sig = env.signatures[0].sig
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        pub.verify(der, pae(env.payload_type, env.payload), ec.ECDSA(hashes.SHA256()))
        # and through the generic Verifier interface
        verifier = EcdsaP256Verifier("dsse-test", env.signatures[0].keyid, pub)
        assert verify_envelope(env, [verifier]) == b"hello world"
        tampered = Envelope(b"hello world!", env.payload_type, env.signatures)
        with pytest.raises(VerificationError):
            verify_envelope(tampered, [verifier])
        # the deterministic RFC 6979 signature is reproduced by the private key
        priv = ec.derive_private_key(int(v["private_d_dec"]), ec.SECP256R1())
        assert priv.public_key().public_numbers() == pub.public_numbers()

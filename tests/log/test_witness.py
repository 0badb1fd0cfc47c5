"""Witnesses: the built-in one survives log key rotation; standard C2SP witnesses cosign
through tlog-witness add-checkpoint (against a witness implemented from the spec text)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from c2sp_witness import Witness, serve
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from logtest_support import ORIGIN, stmt

from ordinance.errors import VerificationError
from ordinance.log import SignedNote, TransparencyLog
from ordinance.log.witness import add_checkpoint_body, request_cosignature
from ordinance.signing import SIGTYPE_COSIGNATURE_V1, Ed25519Signer, parse_vkey


@pytest.fixture
def witness(signer: Ed25519Signer) -> Iterator[tuple[Witness, str]]:
    w = Witness("witness.example/w1", Ed25519PrivateKey.generate(), {ORIGIN: [signer.vkey]})
    httpd, url = serve(w)
    try:
        yield w, url
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_builtin_witness_survives_rotation(log: TransparencyLog, signer: Ed25519Signer) -> None:
    w = Ed25519Signer.generate("witness.example/own", SIGTYPE_COSIGNATURE_V1)
    log.append_statements([stmt(i) for i in range(4)])
    _sig, state = log.witness(w, [signer.verifier], None, timestamp=1_700_000_000)
    assert "witness.example/own" in state  # the state carries the witness's own cosignature
    new = Ed25519Signer.generate(ORIGIN)
    log.rotate_key(new)
    # configured with the new key (the workspace's after `keys rotate`) or the old one: both go on
    for n, keys in enumerate(([new.verifier], [signer.verifier])):
        log.append_statements([stmt(10 + n)])
        _sig, state = log.witness(w, keys, state, timestamp=1_700_000_100 + n)
        assert SignedNote.parse(state).text.split("\n")[1] == str(log.size())
    report = log.verify(signer.vkey, witness_vkeys=[w.verifier.vkey], min_witnesses=1)
    assert report.ok, report.reason
    # an unrelated key is not a key of this log
    with pytest.raises(VerificationError, match="none of the trusted"):
        log.witness(w, [Ed25519Signer.generate(ORIGIN).verifier], state, timestamp=1)


def test_builtin_witness_catches_a_fork(
    log: TransparencyLog, signer: Ed25519Signer, tmp_path: Path
) -> None:
    w = Ed25519Signer.generate("witness.example/own", SIGTYPE_COSIGNATURE_V1)
    log.append_statements([stmt(i) for i in range(4)])
    _sig, state = log.witness(w, [signer.verifier], None, timestamp=1)
    # another log under the same key, with a different history: the witness refuses it
    from ordinance.log import create_schema
    from ordinance.store._engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'fork.db'}")
    with eng.begin() as conn:
        create_schema(conn)
    fork = TransparencyLog(eng, signer, ORIGIN)
    fork.append_statements([stmt(i + 100) for i in range(6)])
    with pytest.raises(VerificationError, match="fork"):
        fork.witness(w, [signer.verifier], state, timestamp=2)
    eng.dispose()


def test_c2sp_witness_add_checkpoint(
    log: TransparencyLog, signer: Ed25519Signer, witness: tuple[Witness, str]
) -> None:
    w, url = witness
    wkey = parse_vkey(w.vkey)
    log.append_statements([stmt(i) for i in range(5)])
    # first contact: old 0 and an empty proof
    line = request_cosignature(log, url, wkey)
    assert line.name == w.name and w.state[ORIGIN][0] == 5
    log.append_statements([stmt(i) for i in range(5, 9)])
    # we do not know what the witness holds: 409 tells us (5), then a consistency proof 5 -> 9
    request_cosignature(log, url, wkey, old_size=0)
    assert w.state[ORIGIN][0] == 9
    report = log.verify(signer.vkey, witness_vkeys=[w.vkey], min_witnesses=1)
    assert report.ok and report.witnesses == (w.vkey,), report.reason
    # the log rotates its key: a standard witness configured with the old key refuses (403)
    new = Ed25519Signer.generate(ORIGIN)
    log.rotate_key(new)
    log.append_statements([stmt(20)])
    with pytest.raises(VerificationError, match="does not trust the log key"):
        request_cosignature(log, url, wkey, old_size=9)
    # its operator adds the new key; its state (size 9) is kept, and it cosigns 9 -> 11
    w.logs[ORIGIN].append(new.vkey)
    request_cosignature(log, url, wkey, old_size=9)
    assert w.state[ORIGIN][0] == 11
    assert log.verify(signer.vkey, witness_vkeys=[w.vkey], min_witnesses=1).ok


def test_c2sp_witness_refuses_bad_submissions(
    log: TransparencyLog, signer: Ed25519Signer, witness: tuple[Witness, str]
) -> None:
    w, _url = witness
    log.append_statements([stmt(i) for i in range(5)])
    note = log.latest_checkpoint()
    assert w.add_checkpoint(add_checkpoint_body(0, [], note))[0] == 200
    log.append_statements([stmt(i) for i in range(5, 8)])
    note8 = log.latest_checkpoint()
    good = log.consistency(5, 8)
    assert w.add_checkpoint(add_checkpoint_body(4, good, note8))[:2] == (409, "text/x.tlog.size")
    assert w.add_checkpoint(add_checkpoint_body(5, [bytes(32)] * len(good), note8))[0] == 422
    assert w.add_checkpoint(add_checkpoint_body(9, [], note8))[0] == 400
    other = Ed25519Signer.generate(ORIGIN)
    from ordinance.log.note import sign_note

    untrusted = sign_note(SignedNote.parse(note8).text, [other]).render()
    assert w.add_checkpoint(add_checkpoint_body(5, good, untrusted))[0] == 403
    assert w.add_checkpoint(b"garbage")[0] == 400
    assert w.add_checkpoint(add_checkpoint_body(5, good, note8))[0] == 200


def test_cli_cosign_after_keys_rotate(tmp_path: Path) -> None:
    from ordinance._cli import main
    from ordinance.workspace import Workspace, init_workspace

    home = tmp_path / ".ordinance"
    init_workspace(home, origin="ordinance.local/cli").close()
    h = ["--home", str(home)]

    def append(n: int) -> None:
        ws = Workspace.open(home)
        ws.audit_log().append_statements([stmt(n, ptype="https://example.com/note/v1")])
        ws.close()

    wkey, state = tmp_path / "w.key", tmp_path / "w.state"
    assert main(["keys", "generate", "--name", "w.example", "--out", str(wkey), "--cosigner"]) == 0
    append(0)
    assert main([*h, "log", "cosign", "--key", str(wkey), "--state", str(state)]) == 0
    assert main([*h, "keys", "rotate", "--reason", "annual", "--actor", "ops"]) == 0
    append(1)
    assert main([*h, "log", "cosign", "--key", str(wkey), "--state", str(state)]) == 0
    assert SignedNote.parse(state.read_text()).text.split("\n")[1] == "3"
    wvkey = wkey.with_suffix(".vkey").read_text().strip()
    assert main([*h, "log", "verify", "--witness-vkey", wvkey, "--min-witnesses", "1"]) == 0

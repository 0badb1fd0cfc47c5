"""The log on SQLite and PostgreSQL: appends, reads, proofs, witnesses, rotation, bundles."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from logtest_support import ORIGIN, Clock, stmt, transition
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ordinance.errors import InputError, NotFoundError, VerificationError
from ordinance.log import (
    PREDICATE_KEY_CHANGE,
    PREDICATE_TRANSITION,
    Checkpoint,
    SignedNote,
    TlogProof,
    TransparencyLog,
    merkle,
    open_log,
    verify_bundle,
    verify_tlog_proof,
)
from ordinance.log.note import verify_note
from ordinance.signing import SIGTYPE_COSIGNATURE_V1, Ed25519Signer, parse_vkey


def test_constructor_does_no_io() -> None:
    from ordinance.store._engine import make_engine

    eng = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    log = TransparencyLog(eng, Ed25519Signer.generate(ORIGIN), ORIGIN)
    assert log.origin == ORIGIN


def test_empty_log(log: TransparencyLog, signer: Ed25519Signer) -> None:
    assert log.size() == 0
    with pytest.raises(NotFoundError):
        log.latest_checkpoint()
    with pytest.raises(NotFoundError):
        log.entry(0)
    assert log.append_statements([]) == []
    report = log.verify(signer.vkey)
    assert report.ok and report.size == 0


def test_append_read_and_checkpoints(log: TransparencyLog, signer: Ed25519Signer) -> None:
    assert log.append_statements([stmt(0)]) == [0]
    assert log.append_statements([stmt(i) for i in range(1, 6)]) == [1, 2, 3, 4, 5]
    assert log.size() == 6
    checkpoints = log.checkpoints()
    assert len(checkpoints) == 2
    note = SignedNote.parse(log.latest_checkpoint())
    verify_note(note, [signer.verifier])
    cp = Checkpoint.from_text(note.text)
    assert (cp.origin, cp.size) == (ORIGIN, 6)
    entries = [log.entry(i) for i in range(6)]
    assert cp.root == merkle.root([e.leaf_hash for e in entries])
    assert log.root() == cp.root
    e = log.entry(3)
    assert e.statement == stmt(3)
    assert e.subject_name == "model-0"
    assert e.predicate_type == stmt(3)["predicateType"]
    assert json.loads(e.envelope)["payloadType"] == "application/vnd.in-toto+json"


def test_entries_filters(log: TransparencyLog) -> None:
    log.append_statements([stmt(0, "fraud"), stmt(1, "churn")])
    log.append_statements([transition(2, "fraud")])
    log.append_statements([stmt(3, "fraud")])
    assert [e.index for e in log.entries(model="fraud")] == [0, 2, 3]
    assert [e.index for e in log.entries(predicate_type=PREDICATE_TRANSITION)] == [2]
    since = log.entry(2).logged_at
    assert [e.index for e in log.entries(model="fraud", since=since)] == [2, 3]
    assert [e.index for e in log.entries(since=since.date().isoformat())] == [0, 1, 2, 3]
    assert [e.index for e in log.entries(page=1)] == [0, 1, 2, 3]
    with pytest.raises(InputError):
        list(log.entries(since="yesterday"))


def test_inclusion_and_consistency_proofs(log: TransparencyLog, signer: Ed25519Signer) -> None:
    sizes: list[int] = []
    for batch in (1, 2, 5, 1, 8, 3, 13):
        log.append_statements([stmt(log.size() + i) for i in range(batch)])
        sizes.append(log.size())
    n = log.size()
    roots = {s: Checkpoint.from_text(SignedNote.parse(log.checkpoint(s)).text).root for s in sizes}
    for i in range(n):
        proof = TlogProof.parse(log.prove(i))
        cp = verify_tlog_proof(proof, log.entry(i).envelope, [signer.verifier], origin=ORIGIN)
        assert cp.size == n
        with pytest.raises(VerificationError):
            verify_tlog_proof(proof, log.entry((i + 1) % n).envelope, [signer.verifier])
    # proofs against an older checkpoint
    proof = TlogProof.parse(log.prove(0, size=sizes[2]))
    assert verify_tlog_proof(proof, log.entry(0).envelope, [signer.verifier]).size == sizes[2]
    for a in sizes:
        for b in sizes:
            if a <= b:
                p = log.consistency(a, b)
                assert merkle.verify_consistency(a, b, p, roots[a], roots[b])
                assert log.root_at(a) == roots[a]
    with pytest.raises(InputError):
        log.consistency(0, n)
    with pytest.raises(NotFoundError):
        log.prove(n)


def test_triggers_reject_update_and_delete(log: TransparencyLog, engine: Engine) -> None:
    log.append_statements([stmt(i) for i in range(4)])
    for sql in (
        "UPDATE ordinance_log_entry SET envelope = envelope WHERE idx = 1",
        "DELETE FROM ordinance_log_entry WHERE idx = 3",
        "UPDATE ordinance_log_checkpoint SET note = note",
        "DELETE FROM ordinance_log_checkpoint",
        "DELETE FROM ordinance_log_node",
        "UPDATE ordinance_log_node SET hash = hash",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE ordinance_log_entry CASCADE"))
    assert log.size() == 4
    assert log.verify(log.vkey).ok


def test_failed_append_leaves_nothing(log: TransparencyLog) -> None:
    log.append_statements([stmt(0)])
    with pytest.raises(InputError):
        log.append_statements([stmt(1), {"_type": "bogus"}])
    with pytest.raises(InputError):
        log.append_envelopes([b'{"payload":"", "payloadType":"x",\n"signatures":[]}'])
    assert log.size() == 1
    assert len(log.checkpoints()) == 1


def test_append_envelopes_signed_by_others(log: TransparencyLog, signer: Ed25519Signer) -> None:
    """Ordinance's own predicates are signed by whom the log says; --entry-vkey only admits
    keys for predicate types Ordinance does not define."""
    from ordinance.log import sign_statement

    approver = Ed25519Signer.generate("alice@example.com")
    env = sign_statement(stmt(0), [approver])  # a registration, not signed by the log key
    assert log.append_envelopes([env]) == [0]
    assert log.entry(0).envelope == env
    assert log.verify(signer.vkey).ok
    for extra in ([], [approver.vkey]):
        deep = log.verify(signer.vkey, deep=True, entry_vkeys=extra)
        assert not deep.ok and deep.first_bad_index == 0
        assert "not signed by the log key" in (deep.reason or ""), deep.reason
    foreign = stmt(1, ptype="https://example.com/third-party/v1")
    log2 = TransparencyLog(log.engine, signer, ORIGIN)
    fresh = _fresh_log(log2)
    fresh.append_envelopes([sign_statement(foreign, [approver])])
    fresh.append_statements([foreign], signers=[approver, signer])
    assert not fresh.verify(signer.vkey, deep=True).ok
    assert fresh.verify(signer.vkey, deep=True, entry_vkeys=[approver.vkey]).ok


def _fresh_log(log: TransparencyLog) -> TransparencyLog:
    """A second, empty log on its own SQLite file (same key)."""
    import tempfile

    from ordinance.log import create_schema
    from ordinance.store._engine import make_engine

    tmp = tempfile.mkdtemp()
    eng = make_engine(f"sqlite:///{tmp}/second.db")
    with eng.begin() as conn:
        create_schema(conn)
    return TransparencyLog(eng, log.signer, ORIGIN)


def test_wrong_origin_or_stale_key_refused(engine: Engine, signer: Ed25519Signer) -> None:
    TransparencyLog(engine, signer, ORIGIN).append_statements([stmt(0)])
    with pytest.raises(InputError, match="origin"):
        TransparencyLog(engine, signer, "other.example/log").append_statements([stmt(1)])
    other = Ed25519Signer.generate(ORIGIN)
    with pytest.raises(InputError, match="signed by key"):
        TransparencyLog(engine, other, ORIGIN).append_statements([stmt(1)])


def test_key_rotation(log: TransparencyLog, signer: Ed25519Signer) -> None:
    log.append_statements([stmt(i) for i in range(3)])
    old_vkey = log.vkey
    new = Ed25519Signer.generate(ORIGIN)
    idx = log.rotate_key(new, reason="annual", actor="sec-team")
    assert idx == 3
    assert log.entry(3).predicate_type == PREDICATE_KEY_CHANGE
    assert log.entry(3).statement["predicate"]["new_vkey"] == new.vkey
    log.append_statements([stmt(i) for i in range(4, 7)])
    for vk in (old_vkey, new.vkey):
        report = log.verify(vk, deep=True)
        assert report.ok, report.reason
        assert report.log_keys == (old_vkey, new.vkey)
    # a stale writer with the old key is refused
    stale = TransparencyLog(log.engine, signer, ORIGIN)
    with pytest.raises(InputError, match="rotated"):
        stale.append_statements([stmt(9)])
    # an unrelated key is not trusted
    bad = log.verify(Ed25519Signer.generate(ORIGIN).vkey)
    assert not bad.ok and "not a key of this log" in (bad.reason or "")


def test_witness_cosign_and_quorum(
    log: TransparencyLog, signer: Ed25519Signer, tmp_path: Path
) -> None:
    w1 = Ed25519Signer.generate("witness.one", SIGTYPE_COSIGNATURE_V1)
    w2 = Ed25519Signer.generate("witness.two", SIGTYPE_COSIGNATURE_V1)
    log.append_statements([stmt(i) for i in range(5)])
    sig, state = log.witness(w1, [signer.verifier], None, timestamp=1_700_000_000)
    assert sig.name == "witness.one"
    log.append_statements([stmt(i) for i in range(3)])
    _sig2, state2 = log.witness(w1, [signer.verifier], state, timestamp=1_700_000_100)
    log.witness(w2, [signer.verifier], None, timestamp=1_700_000_200)
    note = SignedNote.parse(log.latest_checkpoint())
    assert len(note.signatures) == 3
    wk = [w1.verifier.vkey, w2.verifier.vkey]
    report = log.verify(signer.vkey, witness_vkeys=wk, min_witnesses=2)
    assert report.ok, report.reason
    assert len(report.witnesses) == 2
    log.append_statements([stmt(99)])
    report = log.verify(signer.vkey, witness_vkeys=wk, min_witnesses=1)
    assert not report.ok and "witness" in (report.reason or "")
    # the proof carries the cosignatures; a k-of-n policy applies offline
    log.witness(w2, [signer.verifier], None, timestamp=1_700_000_300)
    proof = TlogProof.parse(log.prove(0))
    verify_tlog_proof(
        proof, log.entry(0).envelope, [signer.verifier], witness_keys=[w2.verifier], min_witnesses=1
    )
    with pytest.raises(VerificationError):
        verify_tlog_proof(
            proof,
            log.entry(0).envelope,
            [signer.verifier],
            witness_keys=[w1.verifier],
            min_witnesses=1,
        )
    # a witness whose state is ahead of the log detects a rollback
    ahead = SignedNote.parse(state2)
    assert Checkpoint.from_text(ahead.text).size == 8
    with pytest.raises(InputError):
        log.witness(w2, [signer.verifier], None, timestamp=1_700_000_400)  # already cosigned


def test_witness_detects_fork(engine: Engine, signer: Ed25519Signer) -> None:
    log = TransparencyLog(engine, signer, ORIGIN, clock=Clock())
    w = Ed25519Signer.generate("witness", SIGTYPE_COSIGNATURE_V1)
    log.append_statements([stmt(i) for i in range(4)])
    # a checkpoint from a different history, signed with the same key
    from ordinance.log.note import sign_note

    forged = sign_note(Checkpoint(ORIGIN, 3, b"\x07" * 32).text(), [signer]).render()
    with pytest.raises(VerificationError, match="fork"):
        log.witness(w, [signer.verifier], forged)
    bigger = sign_note(Checkpoint(ORIGIN, 40, b"\x07" * 32).text(), [signer]).render()
    with pytest.raises(VerificationError, match="rollback"):
        log.witness(w, [signer.verifier], bigger)


def test_export_and_verify_bundle(
    log: TransparencyLog, signer: Ed25519Signer, tmp_path: Path
) -> None:
    for b in range(4):
        log.append_statements([stmt(i) for i in range(b + 2)])
    new = Ed25519Signer.generate(ORIGIN)
    log.rotate_key(new)
    log.append_statements([stmt(50)])
    out = log.export(tmp_path / "bundle")
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint",
        "checkpoints.jsonl",
        "entries.jsonl",
        "log.vkey",
        "manifest.json",
    ]
    lines = (out / "entries.jsonl").read_bytes().split(b"\n")
    assert lines[:-1] == [log.entry(i).envelope for i in range(log.size())]
    r = verify_bundle(out, signer.vkey, deep=True)
    assert r.ok, r.reason
    assert r.size == log.size() and r.checkpoints_checked == 6
    with pytest.raises(InputError, match="no trusted log key"):
        verify_bundle(out)  # fail closed: the bundle's own key is never trusted implicitly
    assert verify_bundle(out, unsafe_trust_bundle_key=True).ok  # an explicit first look
    with pytest.raises(InputError):
        log.export(out)  # not empty
    # tamper with a byte of one entry in the bundle
    data = bytearray((out / "entries.jsonl").read_bytes())
    pos = data.index(b"\n", data.index(b"\n") + 1) + 30  # inside entry 2
    data[pos] ^= 0x01
    (out / "entries.jsonl").write_bytes(bytes(data))
    r = verify_bundle(out, signer.vkey)
    assert not r.ok and r.first_bad_index == 2  # the batch holding entry 2 starts at 2
    r = verify_bundle(out, signer.vkey, deep=True)
    assert not r.ok and r.first_bad_index == 2


def test_open_log_and_name_check(engine: Engine, key_path: Path) -> None:
    log = open_log(engine, key_path, ORIGIN)
    assert log.append_statements([stmt(0)]) == [0]
    with pytest.raises(InputError):
        open_log(engine, key_path, "other.example/log")


def test_trusted_checkpoint(log: TransparencyLog, signer: Ed25519Signer) -> None:
    log.append_statements([stmt(i) for i in range(5)])
    held = log.latest_checkpoint()
    log.append_statements([stmt(i) for i in range(5)])
    assert log.verify(signer.vkey, trusted_checkpoint=held).ok
    assert log.verify(signer.vkey, trusted_checkpoint=log.latest_checkpoint()).ok
    from ordinance.log.note import sign_note

    forked = sign_note(Checkpoint(ORIGIN, 5, b"\x01" * 32).text(), [signer]).render()
    r = log.verify(signer.vkey, trusted_checkpoint=forked)
    assert not r.ok and "fork" in (r.reason or "")
    unsigned = sign_note(
        Checkpoint(ORIGIN, 5, log.root_at(5)).text(), [Ed25519Signer.generate(ORIGIN)]
    ).render()
    assert not log.verify(signer.vkey, trusted_checkpoint=unsigned).ok


def test_core_import_does_not_pull_cli() -> None:
    code = (
        "import sys, ordinance.log, ordinance.signing;"
        "bad = [m for m in ('click', 'rich') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api() -> None:
    import ordinance.log as api

    for name in api.__all__:
        assert hasattr(api, name), name
    assert "TransparencyLog" in api.__all__ and "open_log" in api.__all__


def test_checkpoint_text_format(log: TransparencyLog) -> None:
    log.append_statements([stmt(0), stmt(1)])
    text_ = SignedNote.parse(log.latest_checkpoint()).text
    origin, size, root, end = text_.split("\n")
    assert (origin, size, end) == (ORIGIN, "2", "")
    assert len(base64.b64decode(root)) == 32
    assert parse_vkey(log.vkey).name == ORIGIN


def test_alembic_migration_creates_log_schema(db_url: str, signer: Ed25519Signer) -> None:
    from ordinance.store._engine import make_engine
    from ordinance.store.migrate import upgrade

    eng = make_engine(db_url)
    try:
        upgrade(eng)
        log = TransparencyLog(eng, signer, ORIGIN)
        assert log.append_statements([stmt(0)]) == [0]
        assert log.verify(signer.vkey).ok
        with pytest.raises(DBAPIError, match="append-only"), eng.begin() as conn:
            conn.execute(text("DELETE FROM ordinance_log_entry"))
    finally:
        eng.dispose()


def test_append_statements_in_a_callers_transaction(
    log: TransparencyLog, engine: Engine, signer: Ed25519Signer
) -> None:
    log.append_statements([stmt(0)])
    # rolled back with the caller's transaction: nothing stays
    conn = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    with conn:
        tx = conn.begin()
        assert log.append_statements_in(conn, [stmt(1), stmt(2)]) == [1, 2]
        tx.rollback()
    assert log.size() == 1 and len(log.checkpoints()) == 1
    # committed with the caller's own write
    conn = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    with conn, conn.begin():
        assert log.append_statements_in(conn, [stmt(3)]) == [1]
        assert log.append_statements_in(conn, []) == []
    assert log.size() == 2 and len(log.checkpoints()) == 2
    assert log.entry(1).statement == stmt(3)
    assert log.verify(signer.vkey, deep=True).ok
    # a fresh log object (no cached frontier) appends on top of it
    other = TransparencyLog(engine, signer, ORIGIN)
    assert other.append_statements([stmt(4)]) == [2]
    assert log.append_statements([stmt(5)]) == [3]
    assert log.verify(signer.vkey, deep=True).ok
    with engine.connect() as conn2, pytest.raises(InputError, match="transaction"):
        log.append_statements_in(conn2, [stmt(6)])


def test_deep_verify_in_parallel_finds_the_first_bad_entry(
    log: TransparencyLog, engine: Engine, signer: Ed25519Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logtest_support import attack

    from ordinance.log import _verifying, sources
    from ordinance.log import deep as deep_mod

    monkeypatch.setattr(deep_mod, "_DEEP_PARALLEL_MIN", 10)
    # the chunk size the database source reads in and the deep workers are handed
    monkeypatch.setattr(sources, "_DEEP_CHUNK", 7)
    monkeypatch.setattr(deep_mod, "_DEEP_CHUNK", 7)
    log.append_statements([stmt(i) for i in range(60)])
    report = log.verify(signer.vkey, deep=True, workers=2)
    assert report.ok and report.signatures_checked == 60

    def envelope(i: int) -> bytes:
        with engine.connect() as conn:
            q = text("SELECT envelope FROM ordinance_log_entry WHERE idx = :i")
            return bytes(conn.execute(q, {"i": i}).scalar_one())

    def deep() -> tuple[int | None, str]:
        from ordinance.log.semantics import SemanticState

        st = _verifying._State()
        state = SemanticState([signer.verifier], signer.verifier, {})
        try:
            deep_mod._verify_deep(sources.DbSource(engine), state, None, 2, st)
        except _verifying._Bad as bad:
            return bad.index, bad.reason
        assert st.signatures == 60
        return None, ""

    # still valid, but URL-safe unpadded base64: the fast path defers to the reference path
    env = envelope(20)
    sig = json.loads(env)["signatures"][0]["sig"]
    odd = sig.replace("+", "-").replace("/", "_").rstrip("=")
    attack(
        engine,
        "UPDATE ordinance_log_entry SET envelope = :e WHERE idx = 20",
        {"e": env.replace(sig.encode(), odd.encode())},
    )
    assert deep() == (None, "")
    # a bad signature at 40 and a hidden subject at 50: the first one is named
    env = envelope(40)
    sig = json.loads(env)["signatures"][0]["sig"]
    bad = env.replace(sig.encode(), sig[:-8].encode() + b"AAAAAAA=")
    attack(engine, "UPDATE ordinance_log_entry SET subject_name = 'x' WHERE idx = 50")
    attack(engine, "UPDATE ordinance_log_entry SET envelope = :e WHERE idx = 40", {"e": bad})
    index, reason = deep()
    assert index == 40 and "bad DSSE signature" in reason

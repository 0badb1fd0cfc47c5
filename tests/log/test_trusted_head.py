"""The trusted head: incremental verification, verified reads, and appends that refuse to
extend a log whose entries were rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from logtest_support import ORIGIN, Clock, attack, stmt
from sqlalchemy import Engine, text

from ordinance.errors import VerificationError
from ordinance.log import TransparencyLog
from ordinance.log.trusted import load_head
from ordinance.signing import Ed25519Signer


def _fresh(engine: Engine, signer: Ed25519Signer, trust: Path | None = None) -> TransparencyLog:
    return TransparencyLog(engine, signer, ORIGIN, clock=Clock(), trust_path=trust)


def _fill(log: TransparencyLog, n: int = 6) -> None:
    for i in range(n):
        log.append_statements([stmt(i)])


def _edit(engine: Engine, idx: int, model: str = "model-x") -> None:
    """Rewrite entry ``idx`` with another (well-formed) envelope: what a DB admin could do."""
    from ordinance.log.dsse import sign_statement
    from ordinance.signing import Ed25519Signer

    other = Ed25519Signer.from_seed(b"\x07" * 32, "mallory")
    env = sign_statement(stmt(idx, model), [other])
    attack(
        engine,
        "UPDATE ordinance_log_entry SET envelope = :e WHERE idx = :i",
        {"e": env, "i": idx},
    )


def test_head_is_saved_and_reloaded(engine: Engine, signer: Ed25519Signer, tmp_path: Path) -> None:
    trust = tmp_path / "state" / "head.json"
    log = _fresh(engine, signer, trust)
    _fill(log)
    head = log.trusted_head()
    assert head.size == 6
    assert json.loads(trust.read_text())["size"] == 6
    again = load_head(trust, log._own_keys(), ORIGIN)
    assert again is not None and again.root == head.root


def test_a_forged_head_file_is_ignored(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path
) -> None:
    trust = tmp_path / "head.json"
    log = _fresh(engine, signer, trust)
    _fill(log)
    log.trusted_head()
    data = json.loads(trust.read_text())
    data["root"] = "00" * 32
    trust.write_text(json.dumps(data))
    assert load_head(trust, log._own_keys(), ORIGIN) is None
    # a fresh reader starts from the empty tree and still verifies the whole log
    assert _fresh(engine, signer, trust).trusted_head().size == 6


def test_incremental_check_reads_only_new_entries(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path
) -> None:
    trust = tmp_path / "head.json"
    _fill(_fresh(engine, signer, trust), 4)
    _fresh(engine, signer, trust).trusted_head()
    # an entry below the saved head is rewritten: a new reader does not re-read it...
    _edit(engine, 1)
    writer = _fresh(engine, signer, trust)
    writer.append_statements([stmt(9)])
    # ...but any read of it is proven against the trusted root and refused
    with pytest.raises(VerificationError, match="entry 1 was edited") as exc:
        writer.verified_entries([1])
    assert exc.value.index == 1
    assert set(writer.verified_entries([0, 2, 4])) == {0, 2, 4}


def test_append_refuses_rewritten_unverified_entries(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path
) -> None:
    log = _fresh(engine, signer, tmp_path / "a.json")
    _fill(log, 5)
    _edit(engine, 2)
    # a process that has not verified the log yet must not sign a checkpoint over it
    other = _fresh(engine, signer, tmp_path / "b.json")
    with pytest.raises(VerificationError, match="entry 2 was edited") as exc:
        other.append_statements([stmt(7)])
    assert exc.value.index == 2
    assert other.size() == 5


def _insert_copy_of_entry_0(engine: Engine, idx: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ordinance_log_entry (idx, leaf_hash, envelope, predicate_type, "
                "subject_name, subject_digest, logged_at) SELECT :i, leaf_hash, envelope, "
                "predicate_type, subject_name, subject_digest, logged_at "
                "FROM ordinance_log_entry WHERE idx = 0"
            ),
            {"i": idx},
        )


def test_append_refuses_a_forged_checkpoint(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path
) -> None:
    import base64

    from ordinance.log import merkle
    from ordinance.log.note import Checkpoint, sign_note

    log = _fresh(engine, signer, tmp_path / "a.json")
    _fill(log, 3)
    # mallory (INSERT rights only) adds an entry and a checkpoint over it, with a signature
    # line that names the log's key id but is made with her own key
    _insert_copy_of_entry_0(engine, 3)
    with engine.connect() as conn:
        leaves = [
            bytes(r[0])
            for r in conn.execute(text("SELECT leaf_hash FROM ordinance_log_entry ORDER BY idx"))
        ]
    mallory = Ed25519Signer.from_seed(b"\x09" * 32, ORIGIN)
    note = sign_note(Checkpoint(ORIGIN, 4, merkle.root(leaves)).text(), [mallory]).render()
    body, sig_line = note.rsplit("\u2014 ", 1)
    name, blob = sig_line.split()
    raw = base64.b64decode(blob)
    forged = (
        f"{body}\u2014 {name} "
        + base64.b64encode(bytes.fromhex(signer.key_id) + raw[4:]).decode()
        + "\n"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ordinance_log_checkpoint (tree_size, root_hash, note, created_at) "
                "VALUES (4, :r, :n, '2025-01-01T00:00:00.000000Z')"
            ),
            {"r": merkle.root(leaves), "n": forged},
        )
    with pytest.raises(VerificationError, match="bad note signature"):
        _fresh(engine, signer, tmp_path / "c.json").append_statements([stmt(8)])
    with pytest.raises(VerificationError, match="bad note signature"):
        log.append_statements([stmt(8)])
    with pytest.raises(VerificationError):
        log.trusted_head()


def test_rollback_of_the_log_is_detected(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path
) -> None:
    trust = tmp_path / "head.json"
    log = _fresh(engine, signer, trust)
    _fill(log, 4)
    log.trusted_head()
    attack(engine, "DELETE FROM ordinance_log_checkpoint WHERE tree_size = 4")
    with pytest.raises(VerificationError, match="rollback"):
        _fresh(engine, signer, trust).trusted_head()


def test_entries_about_a_subject_are_proven(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path
) -> None:
    log = _fresh(engine, signer, tmp_path / "h.json")
    _fill(log, 9)
    got = log.verified_entries_about(subject="model-1")
    assert [e.index for e in got] == [1, 4, 7]
    assert [e.index for e in log.verified_entries_about(subject_prefix="model-")] == list(range(9))
    # an entry whose index columns lie about its statement is refused, naming it
    attack(engine, "UPDATE ordinance_log_entry SET subject_name = 'model-1' WHERE idx = 2")
    with pytest.raises(VerificationError, match="entry 2: its index columns") as exc:
        _fresh(engine, signer).verified_entries_about(subject="model-1")
    assert exc.value.index == 2


def test_entries_past_the_signed_size_are_never_returned(
    engine: Engine, signer: Ed25519Signer
) -> None:
    log = _fresh(engine, signer)
    _fill(log, 3)
    _insert_copy_of_entry_0(engine, 3)
    assert [e.index for e in log.verified_entries_about(subject="model-0")] == [0]
    with pytest.raises(VerificationError, match="entry 3 is not in the signed log"):
        log.verified_entries([3])


def test_a_read_overtaken_by_a_newer_verification_is_not_a_rollback(
    engine: Engine, signer: Ed25519Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server threads share one log object: a thread that read the head at size 6 while
    another verified size 7 must not call its older (true) read a rollback, and the newer
    trusted head must survive it (in memory and on disk)."""
    from ordinance.log import store

    trust = tmp_path / "head.json"
    log = _fresh(engine, signer, trust)
    _fill(log)
    assert log.trusted_head().size == 6
    with engine.connect() as conn:
        stale = store._head(conn)  # what a slow reader got before the next append
    log.append_statements([stmt(6)])
    real = store._head
    calls = 0

    def overtaken(conn: object) -> tuple[int, bytes, str | None]:
        nonlocal calls
        calls += 1
        if calls == 1:  # meanwhile another thread verifies the new head
            assert log.trusted_head().size == 7
            return stale
        return real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_head", overtaken)
    assert log.trusted_head().size == 6  # the older read verifies as what it was
    assert calls == 2
    monkeypatch.setattr(store, "_head", real)
    assert log._trusted is not None and log._trusted.size == 7
    assert json.loads(trust.read_text())["size"] == 7
    # a real rollback is still one
    attack(engine, "DELETE FROM ordinance_log_checkpoint WHERE tree_size = 7", {})
    with pytest.raises(VerificationError, match="rollback"):
        log.trusted_head()

"""An attacker with DB admin rights edits, deletes, reorders, inserts or truncates: detected."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from logtest_support import attack, stmt
from sqlalchemy import Engine, text

from ordinance.log import TransparencyLog, merkle
from ordinance.signing import Ed25519Signer

SINGLE = 10  # entries 0..9 each in their own batch, then one batch of 6 (10..15)


@pytest.fixture(params=["sequential", "parallel"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Structural verification in this process, or with worker processes over ranges."""
    if request.param == "parallel":
        # tiny ranges so a 16-entry log takes the multi-process structural path
        from ordinance.log import _verifying
        from ordinance.log import structure as structure_mod

        assert _verifying._fork_ok(), f"threads alive: {threading.enumerate()}"
        monkeypatch.setattr(structure_mod, "_CHUNK_LEVEL", 2)
        monkeypatch.setattr(structure_mod, "_CHUNK", 4)
        monkeypatch.setattr(structure_mod, "_STRUCT_PARALLEL_MIN", 8)
        real = structure_mod._stream_parallel

        def counted(*args: Any, **kwargs: Any) -> None:
            PARALLEL_CALLS.append(1)
            real(*args, **kwargs)

        monkeypatch.setattr(structure_mod, "_stream_parallel", counted)
    return str(request.param)


@pytest.fixture
def filled(log: TransparencyLog, mode: str) -> TransparencyLog:
    for i in range(SINGLE):
        log.append_statements([stmt(i)])
    log.append_statements([stmt(i) for i in range(SINGLE, SINGLE + 6)])
    return log


PARALLEL_CALLS: list[int] = []


def _envelope(engine: Engine, idx: int) -> bytes:
    with engine.connect() as conn:
        return bytes(
            conn.execute(
                text("SELECT envelope FROM ordinance_log_entry WHERE idx = :i"), {"i": idx}
            ).scalar_one()
        )


def _check(log: TransparencyLog, vkey: str, index: int | None, words: str, **kw: object) -> None:
    report = log.verify(vkey, **kw)  # type: ignore[arg-type]
    assert not report.ok, "tampering went undetected"
    assert report.first_bad_index == index, report.reason
    assert words in (report.reason or ""), report.reason


def test_untampered_log_verifies(filled: TransparencyLog, signer: Ed25519Signer, mode: str) -> None:
    PARALLEL_CALLS.clear()
    report = filled.verify(signer.vkey)
    assert report.ok and report.entries_checked == SINGLE + 6, report.reason
    assert filled.verify(signer.vkey, trusted_checkpoint=filled.checkpoint(8)).ok
    assert filled.verify(signer.vkey, deep=True).ok
    assert bool(PARALLEL_CALLS) == (mode == "parallel")


@pytest.mark.parametrize("offset", [0, 17, 60, -3])
def test_edit_one_byte(filled: TransparencyLog, signer: Ed25519Signer, offset: int) -> None:
    env = bytearray(_envelope(filled.engine, 4))
    env[offset] ^= 0x20
    attack(
        filled.engine,
        "UPDATE ordinance_log_entry SET envelope = :e WHERE idx = 4",
        {"e": bytes(env)},
    )
    _check(filled, signer.vkey, 4, "edited")


def test_edit_with_leaf_hash_rewritten(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    env = _envelope(filled.engine, 4).replace(b'"sig":"', b'"sig":"A', 1)
    attack(
        filled.engine,
        "UPDATE ordinance_log_entry SET envelope = :e, leaf_hash = :h WHERE idx = 4",
        {"e": env, "h": merkle.leaf_hash(env)},
    )
    _check(filled, signer.vkey, 4, "do not hash to signed checkpoint 5")
    _check(filled, signer.vkey, 4, "", deep=True)


def test_edit_inside_last_batch(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    env = _envelope(filled.engine, 13)
    env2 = env.replace(b'"payload":"', b'"payload":"e', 1)
    attack(
        filled.engine,
        "UPDATE ordinance_log_entry SET envelope = :e, leaf_hash = :h WHERE idx = 13",
        {"e": env2, "h": merkle.leaf_hash(env2)},
    )
    # structurally the batch 10..15 is bad; the deep check names the exact entry
    _check(filled, signer.vkey, 10, "10..15")
    _check(filled, signer.vkey, 10, "", deep=True)
    report = filled.verify(signer.vkey, deep=True)
    assert "13" not in (report.reason or "") or report.first_bad_index == 10


def test_delete_entry(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    attack(filled.engine, "DELETE FROM ordinance_log_entry WHERE idx = 6")
    _check(filled, signer.vkey, 6, "entry 6 is missing")


def test_reorder_entries(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    a, b = _envelope(filled.engine, 2), _envelope(filled.engine, 3)
    attack(
        filled.engine,
        "UPDATE ordinance_log_entry SET envelope = CASE idx WHEN 2 THEN :b ELSE :a END, "
        "leaf_hash = CASE idx WHEN 2 THEN :hb ELSE :ha END WHERE idx IN (2, 3)",
        {"a": a, "b": b, "ha": merkle.leaf_hash(a), "hb": merkle.leaf_hash(b)},
    )
    _check(filled, signer.vkey, 2, "do not hash to signed checkpoint 3")


def test_insert_after_signing(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    env = _envelope(filled.engine, 0)
    attack(
        filled.engine,
        "INSERT INTO ordinance_log_entry (idx, leaf_hash, envelope, predicate_type, subject_name, "
        "subject_digest, logged_at) VALUES (16, :h, :e, 'x', 'y', 'z', '2030-01-01T00:00:00Z')",
        {"e": env, "h": merkle.leaf_hash(env)},
    )
    _check(filled, signer.vkey, 16, "not covered by any signed checkpoint")


def test_insert_in_the_middle(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    # shift entries 8.. up by one (renumber) and put a forged entry at 8
    forged = _envelope(filled.engine, 0)
    with filled.engine.begin() as conn:
        from logtest_support import disable_triggers

        disable_triggers(conn)
        conn.execute(text("UPDATE ordinance_log_entry SET idx = idx + 1000 WHERE idx >= 8"))
        conn.execute(text("UPDATE ordinance_log_entry SET idx = idx - 999 WHERE idx >= 1000"))
        conn.execute(
            text(
                "INSERT INTO ordinance_log_entry (idx, leaf_hash, envelope, predicate_type, "
                "subject_name, subject_digest, logged_at) "
                "VALUES (8, :h, :e, 'x', 'y', 'z', '2030-01-01T00:00:00Z')"
            ),
            {"e": forged, "h": merkle.leaf_hash(forged)},
        )
    _check(filled, signer.vkey, 8, "do not hash to signed checkpoint 9")


def test_truncate_needs_a_trusted_checkpoint(
    filled: TransparencyLog, signer: Ed25519Signer
) -> None:
    held = filled.checkpoint(12 if False else 16)
    older = filled.checkpoint(8)
    # drop the last batch and its checkpoint and nodes: self-consistent, signed by the log key
    attack(filled.engine, "DELETE FROM ordinance_log_cosignature")
    attack(filled.engine, "DELETE FROM ordinance_log_checkpoint WHERE tree_size > 10")
    attack(filled.engine, "DELETE FROM ordinance_log_entry WHERE idx >= 10")
    attack(filled.engine, "DELETE FROM ordinance_log_node WHERE (idx + 1) * (1 << level) > 10")
    # the log's own key proves consistency, not completeness:
    assert filled.verify(signer.vkey).ok
    # ...but an auditor-held checkpoint catches it, naming the first missing entry
    _check(filled, signer.vkey, 10, "truncated", trusted_checkpoint=held)
    assert filled.verify(signer.vkey, trusted_checkpoint=older).ok


def test_truncate_entries_only(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    attack(filled.engine, "DELETE FROM ordinance_log_entry WHERE idx >= 14")
    _check(filled, signer.vkey, 14, "missing")


def test_forged_checkpoint(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    attack(
        filled.engine,
        "UPDATE ordinance_log_checkpoint SET note = :n WHERE tree_size = 5",
        {"n": filled.checkpoint(5).replace("\n5\n", "\n4\n")},
    )
    report = filled.verify(signer.vkey)
    assert not report.ok and "bad note signature" in (report.reason or "")


def test_side_columns_checked_deep(filled: TransparencyLog, signer: Ed25519Signer) -> None:
    attack(filled.engine, "UPDATE ordinance_log_entry SET subject_name = 'hidden' WHERE idx = 7")
    assert filled.verify(signer.vkey).ok  # not part of the signed data...
    _check(filled, signer.vkey, 7, "indexed subject", deep=True)  # ...but deep compares it

"""How many times the log talks to its database: a count, not a stopwatch.

An inclusion proof must cost a fixed number of round trips whatever the log's size (one query
for all the proof's nodes, never one per level), and deep verification must stream the log in
a fixed number of statements rather than look anything up per entry (roster keys, approvals,
checkpoints). Counted on each backend below the SQL layer, so raw-cursor statements and the
driver's own BEGIN/ROLLBACK are included: SQLite's trace callback sees every statement;
PostgreSQL's libpq protocol trace sees every message, and each ``Query`` or ``Sync`` the
client sends is one round trip (the client then waits for the server to be ready again).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from logtest_support import ORIGIN
from sqlalchemy import Engine, event

from ordinance import uris
from ordinance._canonical import canonical_json
from ordinance.log import TransparencyLog, create_schema, make_statement
from ordinance.log.proof import TlogProof, verify_tlog_proof
from ordinance.signing import PAYLOAD_TYPE_INTOTO, Ed25519Signer, sign_envelope
from ordinance.store._engine import make_engine


class Counter:
    """Round trips (PostgreSQL) or statements (SQLite) on every connection of one engine."""

    def __init__(self, engine: Engine) -> None:
        self._pg = engine.dialect.name == "postgresql"
        self._sqlite = 0
        self._conns: list[Any] = []
        self._flags: Any = 0
        self._trace = tempfile.NamedTemporaryFile("w+", suffix=".trace")  # noqa: SIM115
        event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        if self._pg:
            from psycopg import pq

            self._flags = pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
            dbapi_conn.pgconn.trace(self._trace.fileno())
            dbapi_conn.pgconn.set_trace_flags(self._flags)
            self._conns.append(dbapi_conn)
        else:
            dbapi_conn.set_trace_callback(self._on_statement)

    def _on_statement(self, _sql: str) -> None:
        self._sqlite += 1

    def total(self) -> int:
        if not self._pg:
            return self._sqlite
        for conn in self._conns:
            if not conn.closed:
                conn.pgconn.untrace()  # flushes the trace; tracing resumes below
                conn.pgconn.trace(self._trace.fileno())
                conn.pgconn.set_trace_flags(self._flags)
        with open(self._trace.name, encoding="utf-8", errors="replace") as f:
            return sum(
                1
                for line in f
                if line.startswith("F\t") and line.split("\t")[2].split()[0] in ("Query", "Sync")
            )

    @contextmanager
    def count(self) -> Iterator[list[int]]:
        """``with counter.count() as n:`` ... then ``n[0]`` is what the block cost."""
        out = [0]
        before = self.total()
        yield out
        out[0] = self.total() - before

    def close(self) -> None:
        for conn in self._conns:
            if not conn.closed:
                conn.pgconn.untrace()
        self._trace.close()


@pytest.fixture
def counted(db_url: str) -> Iterator[tuple[Engine, Counter]]:
    eng = make_engine(db_url)
    counter = Counter(eng)
    try:
        with eng.begin() as conn:
            create_schema(conn)
        yield eng, counter
    finally:
        eng.dispose()
        counter.close()


def _key(name: str) -> Ed25519Signer:
    return Ed25519Signer.from_seed(hashlib.sha256(name.encode()).digest(), name)


LOG_KEY = Ed25519Signer.from_seed(hashlib.sha256(b"round trips").digest(), ORIGIN)
VERA, RITA = _key("vera@example"), _key("rita@example")


def _env(name: str, digest: str, ptype: str, pred: dict[str, Any], key: Ed25519Signer) -> bytes:
    payload = canonical_json(make_statement(name, digest, ptype, pred))
    return sign_envelope(payload, PAYLOAD_TYPE_INTOTO, [key]).to_bytes()


def roster_entry() -> bytes:
    roster = {
        "apiVersion": "ordinance/v1",
        "kind": "Roster",
        "members": [
            {"id": "rita@example", "keys": [RITA.vkey], "name": "", "roles": ["risk-officer"]},
            {"id": "vera@example", "keys": [VERA.vkey], "name": "", "roles": ["model-validator"]},
        ],
    }
    digest = hashlib.sha256(canonical_json(roster)).hexdigest()
    pred = {
        "digest": {"sha256": digest},
        "previous": None,
        "roster": roster,
        "actor": "tests",
        "appliedAt": "2026-01-01T00:00:00.000000Z",
    }
    return _env("ordinance:roster", digest, uris.ROSTER_CHANGE, pred, LOG_KEY)


def version_entries(v: int, first_index: int) -> list[bytes]:
    """Registration, approvals signed by two roster members, evaluation, promotion."""
    ref, ver = f"m@{v}", str(v)
    ident = hashlib.sha256(ref.encode()).hexdigest()
    reg = {"author": "alice@example", "version": ver, "model": {"name": "m"}}
    out = [_env(ref, ident, uris.REGISTRATION, reg, LOG_KEY)]
    approvals = []
    for who, key in (("vera@example", VERA), ("rita@example", RITA)):
        pred = {
            "approver": who,
            "model": "m",
            "version": ver,
            "stage": "production",
            "identity": {"sha256": ident},
            "policies": {},
            "signedAt": "2026-01-01T00:00:00.000000Z",
            "expiresAt": None,
        }
        out.append(_env(ref, ident, uris.APPROVAL, pred, key))
        approvals.append({"approver": who, "roles": [], "digest": _sha(out[-1])})
    vsa_index = first_index + len(out)
    out.append(_env(ref, ident, uris.VSA, {"verificationResult": "PASSED"}, LOG_KEY))
    promote = {
        "kind": "promote",
        "fromStage": "staging",
        "toStage": "production",
        "actor": "ci",
        "at": "2026-01-01T00:00:00Z",
        "reason": "ok",
        "evaluationLogIndex": vsa_index,
        "approvals": approvals,
        "waivers": [],
    }
    out.append(_env(ref, ident, uris.TRANSITION, promote, LOG_KEY))
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def grow(log: TransparencyLog, versions: int) -> None:
    """Append ``versions`` governed versions (5 entries each), a few per transaction."""
    if log.size() == 0:
        log.append_envelopes([roster_entry()])
    start = (log.size() - 1) // 5
    for v in range(start, start + versions, 4):
        batch: list[bytes] = []
        for w in range(v, min(v + 4, start + versions)):
            batch += version_entries(w, log.size() + len(batch))
        log.append_envelopes(batch)


def proof_cost(log: TransparencyLog, counter: Counter, index: int) -> int:
    with counter.count() as n:
        text = log.prove(index)
    proof = TlogProof.parse(text)
    cp = verify_tlog_proof(proof, log.entry(index).envelope, [LOG_KEY.verifier], origin=ORIGIN)
    assert cp.size == log.size()
    return n[0]


def test_inclusion_proof_round_trips_do_not_grow_with_the_log(
    counted: tuple[Engine, Counter],
) -> None:
    engine, counter = counted
    log = TransparencyLog(engine, LOG_KEY, ORIGIN)
    pg = engine.dialect.name == "postgresql"
    costs: dict[int, tuple[int, int]] = {}
    for versions in (2, 60):  # 11, then 311 entries: proofs of 4 and 9 hashes
        grow(log, versions)
        size = log.size()
        first = proof_cost(log, counter, size // 3)  # the first proof since the append
        steady = [proof_cost(log, counter, i) for i in (0, size // 2, size - 1, 7)]
        costs[size] = (first, max(steady))
    (small_first, small), (big_first, big) = costs.values()
    assert big == small and big_first == small_first, costs
    # PostgreSQL: the pool's liveness ping, then checkpoint and nodes in one pipelined trip
    # (a second trip only when the log grew since the last proof). SQLite: two statements.
    assert big <= 2, costs
    assert big_first <= (3 if pg else 2), costs
    # a proof against an older checkpoint knows its size up front: one trip for both queries
    with counter.count() as n:
        log.prove(3, size=11)
    assert n[0] <= 2


def test_deep_verify_statements_do_not_grow_with_the_log(
    counted: tuple[Engine, Counter],
) -> None:
    engine, counter = counted
    log = TransparencyLog(engine, LOG_KEY, ORIGIN)
    costs = []
    for versions in (3, 120):  # 16, then 616 entries, 40% of them approvals by roster keys
        grow(log, versions)
        with counter.count() as n:
            report = log.verify(LOG_KEY.vkey, deep=True, workers=1)
        assert report.ok, report.reason
        costs.append(n[0])
    assert costs[0] == costs[1], costs
    assert costs[1] <= 40, costs  # a fixed handful of statements, nothing per entry


def test_counter_sees_statements(counted: tuple[Engine, Counter]) -> None:
    """The counter is not blind: a query per entry would show up in it."""
    engine, counter = counted
    log = TransparencyLog(engine, LOG_KEY, ORIGIN)
    grow(log, 1)
    with counter.count() as n:
        for i in range(log.size()):
            log.entry(i)
    assert n[0] >= log.size()


def test_proofs_are_right_when_the_size_sent_ahead_is_wrong_or_pipelines_are_missing(
    counted: tuple[Engine, Counter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size sent ahead is a guess: too small (the log grew), too large (another log, a
    restored database) or absent (no pipelines in this libpq), every proof is still right."""
    from ordinance.log import store

    engine, counter = counted
    log = TransparencyLog(engine, LOG_KEY, ORIGIN)
    grow(log, 8)
    size = log.size()
    for guess in (1, size - 1, size + 500, 10**9):
        log._proof_size = guess
        for i in (0, size // 2, size - 1):
            assert proof_cost(log, counter, i) <= 3
    log._proof_size = size  # an older checkpoint's size is known ahead, never guessed
    proof = TlogProof.parse(log.prove(2, size=21))
    assert verify_tlog_proof(proof, log.entry(2).envelope, [LOG_KEY.verifier]).size == 21
    monkeypatch.setattr(store, "_pipelines", lambda: False)
    for i in (1, size - 2):
        assert proof_cost(log, counter, i) <= 3

"""Audit-log benchmarks: append throughput, structural and deep verification, proof latency.

    python benchmarks/bench_log.py [--entries 1000000] [--db URL] [--deep-entries 100000]
                                   [--repeat 3] [--reuse]

Figures are printed as measured on this machine; nothing is tuned for the run. Timed reads
(verification, proofs) run ``--repeat`` times and report the median and the spread, with the
load average, because the machine may be shared. ``--reuse`` with ``--db`` skips building the
log when the database already holds one of at least ``--entries`` entries (its key seed is
fixed so a reused log can be appended to).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

from ordinance.log import PREDICATE_REGISTRATION, TransparencyLog, create_schema, make_statement
from ordinance.log.dsse import sign_statement
from ordinance.log.semantics import SemanticState
from ordinance.log.tiles import export_tiles
from ordinance.log.verify import DbSource, _State, _verify_deep
from ordinance.signing import Ed25519Signer
from ordinance.store._engine import make_engine

ORIGIN = "bench.ordinance.local/log"


def statement(i: int) -> dict[str, object]:
    digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
    return make_statement(
        f"model-{i % 97}",
        digest,
        PREDICATE_REGISTRATION,
        {"version": str(i), "actor": "bench", "stage": "staging", "reason": "benchmark run"},
    )


class _Limited:
    """The first ``n`` entries of a DB log, for timing deep verification on a sample."""

    def __init__(self, engine: object, n: int) -> None:
        self._db = DbSource(engine)  # type: ignore[arg-type]
        self._n = n

    def entry_count(self) -> int:
        return self._n

    def iter_indexed(
        self,
    ) -> Generator[list[tuple[int, bytes, str | None, str | None]], None, None]:
        seen = 0
        it = self._db.iter_indexed()
        try:
            for batch in it:
                batch = batch[: self._n - seen]
                seen += len(batch)
                yield batch
                if seen >= self._n:
                    return
        finally:
            it.close()


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s ({n:,} in {seconds:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000, help="log size to build and verify")
    ap.add_argument("--db", help="SQLAlchemy URL (default: a temporary SQLite file)")
    ap.add_argument("--batch", type=int, default=10_000, help="entries per append batch")
    ap.add_argument("--durable", type=int, default=2_000, help="single-entry transactions to time")
    ap.add_argument("--deep-entries", type=int, default=100_000, help="entries to deep-verify")
    ap.add_argument(
        "--governance-entries", type=int, default=100_000, help="size of the governance-mix log"
    )
    ap.add_argument("--proofs", type=int, default=1_000, help="inclusion proofs to time")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each timed read")
    ap.add_argument("--reuse", action="store_true", help="reuse a log already in --db")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        create_schema(conn)
    signer = Ed25519Signer.from_seed(hashlib.sha256(b"ordinance bench key").digest(), ORIGIN)
    log = TransparencyLog(engine, signer, ORIGIN)
    print(f"backend: {engine.dialect.name}; cores: {os.cpu_count()}; target size {args.entries:,}")
    print(f"load average at start: {load()}")
    if args.reuse and log.size() >= args.entries:
        print(f"reusing the log in the database ({log.size():,} entries): appends not timed")
    else:
        build(log, signer, args)
    size = log.size()
    reads(log, engine, signer, size, args)
    print(f"load average at end: {load()}")
    engine.dispose()
    tmp.cleanup()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"
    )


def build(log: TransparencyLog, signer: Ed25519Signer, args: argparse.Namespace) -> None:

    # 1. batched append of statements (canonical JSON + DSSE sign + append)
    sample = min(args.batch, args.entries)
    stmts = [statement(i) for i in range(sample)]
    t = time.perf_counter()
    log.append_statements(stmts)
    dt = time.perf_counter() - t
    print(f"append_statements, one batch (sign + append):  {rate(sample, dt)}")

    # 2. batched append of pre-signed envelopes (the storage/tree path alone)
    envs = [sign_statement(statement(i), [signer]) for i in range(sample, 2 * sample)]
    total = sample
    t = time.perf_counter()
    while total < args.entries:
        k = min(args.batch, args.entries - total)
        log.append_envelopes(envs[:k])
        total += k
    dt = time.perf_counter() - t
    if total > sample:
        print(
            f"append_envelopes, batches of {args.batch:,} (pre-signed):   {rate(total - sample, dt)}"
        )

    # 3. per-entry durable transactions (one entry, one checkpoint, one commit each)
    t = time.perf_counter()
    for i in range(args.durable):
        log.append_statements([statement(10_000_000 + i)])
    dt = time.perf_counter() - t
    print(f"append_statements, 1 entry per transaction:    {rate(args.durable, dt)}")


def reads(
    log: TransparencyLog, engine: object, signer: Ed25519Signer, size: int, args: argparse.Namespace
) -> None:
    # 4. structural verification of the whole log
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = log.verify(signer.vkey)
        times.append(time.perf_counter() - t)
        assert report.ok, report.reason
    dt = statistics.median(times)
    print(
        f"structural verify of {size:,} entries, {report.checkpoints_checked:,} checkpoints: "
        f"{spread(times)} ({size / dt:,.0f} entries/s)"
    )

    # 5. deep verification (DSSE signatures on all cores) of a sample
    n = min(args.deep_entries, size)
    times = []
    for _ in range(args.repeat):
        st = _State()
        state = SemanticState([signer.verifier], signer.verifier, None)
        t = time.perf_counter()
        _verify_deep(_Limited(engine, n), state, None, None, st)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t)
        assert st.signatures == n
    dt = statistics.median(times)
    print(
        f"deep verify (DSSE + semantics, {os.cpu_count()} processes) of {n:,} registrations: "
        f"{n / dt:,.0f}/s, {spread(times)}"
    )

    # 5b. semantic deep verification of a governance mix (roster, registrations, approvals
    # signed by approvers' own keys, evaluations, transitions citing them), end to end
    governance(args)

    # 5c. tiles export of the whole log
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            done = export_tiles(log, Path(out) / "tiles")
            times.append(time.perf_counter() - t)
    print(
        f"tiles export of {size:,} entries ({done.tiles:,} tiles, {done.entry_bundles:,} "
        f"entry bundles): {spread(times)}"
    )

    # 6. inclusion proof latency at full size
    rng = random.Random(7)
    times = []
    for _ in range(args.proofs):
        i = rng.randrange(size)
        t = time.perf_counter()
        log.prove(i)
        times.append(time.perf_counter() - t)
    times.sort()
    print(
        f"inclusion proof at {size:,}: median {statistics.median(times) * 1e3:.2f} ms, "
        f"p99 {times[int(len(times) * 0.99) - 1] * 1e3:.2f} ms"
    )


def governance(args: argparse.Namespace) -> None:
    """A log of N versions x (registration, 2 approvals, evaluation, transition)."""
    from ordinance import uris
    from ordinance._canonical import canonical_json
    from ordinance.log import merkle
    from ordinance.signing import PAYLOAD_TYPE_INTOTO, sign_envelope

    n_versions = max(1, args.governance_entries // 5)
    seed = hashlib.sha256(b"ordinance bench key").digest()
    log_key = Ed25519Signer.from_seed(seed, ORIGIN)
    vera = Ed25519Signer.from_seed(hashlib.sha256(b"vera").digest(), "vera@bench")
    rita = Ed25519Signer.from_seed(hashlib.sha256(b"rita").digest(), "rita@bench")
    roster = {
        "apiVersion": "ordinance/v1",
        "kind": "Roster",
        "members": [
            {"id": "rita@bench", "keys": [rita.vkey], "name": "", "roles": ["risk-officer"]},
            {"id": "vera@bench", "keys": [vera.vkey], "name": "", "roles": ["model-validator"]},
        ],
    }
    rdigest = hashlib.sha256(canonical_json(roster)).hexdigest()

    def st(name: str, digest: str, ptype: str, pred: dict[str, object]) -> bytes:
        stmt = make_statement(name, digest, ptype, pred)
        return canonical_json(stmt)

    def env(payload: bytes, signers: list[Ed25519Signer]) -> bytes:
        return sign_envelope(payload, PAYLOAD_TYPE_INTOTO, signers).to_bytes()

    entries = [
        env(
            st(
                "ordinance:roster",
                rdigest,
                uris.ROSTER_CHANGE,
                {
                    "digest": {"sha256": rdigest},
                    "previous": None,
                    "roster": roster,
                    "actor": "bench",
                    "appliedAt": "2026-01-01T00:00:00.000000Z",
                },
            ),
            [log_key],
        )
    ]
    for v in range(n_versions):
        ref, ver = f"m@{v}", str(v)
        ident = hashlib.sha256(ref.encode()).hexdigest()
        entries.append(
            env(
                st(
                    ref,
                    ident,
                    uris.REGISTRATION,
                    {"author": "alice@bench", "version": ver, "model": {"name": "m"}},
                ),
                [log_key],
            )
        )
        digests = []
        for who, key in (("vera@bench", vera), ("rita@bench", rita)):
            e = env(
                st(
                    ref,
                    ident,
                    uris.APPROVAL,
                    {
                        "approver": who,
                        "model": "m",
                        "version": ver,
                        "stage": "production",
                        "identity": {"sha256": ident},
                        "policies": {},
                        "signedAt": "2026-01-01T00:00:00.000000Z",
                        "expiresAt": None,
                    },
                ),
                [key],
            )
            entries.append(e)
            digests.append((who, hashlib.sha256(e).hexdigest()))
        vsa_index = len(entries)
        entries.append(env(st(ref, ident, uris.VSA, {"verificationResult": "PASSED"}), [log_key]))
        entries.append(
            env(
                st(
                    ref,
                    ident,
                    uris.TRANSITION,
                    {
                        "kind": "promote",
                        "fromStage": "staging",
                        "toStage": "production",
                        "actor": "ci",
                        "at": "2026-01-01T00:00:00Z",
                        "reason": "ok",
                        "evaluationLogIndex": vsa_index,
                        "approvals": [
                            {"approver": w, "roles": [], "digest": d} for w, d in digests
                        ],
                        "waivers": [],
                    },
                ),
                [log_key],
            )
        )
    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(f"sqlite:///{Path(tmp.name) / 'governance.db'}")
    with engine.begin() as conn:
        create_schema(conn)
    glog = TransparencyLog(engine, log_key, ORIGIN)
    for i in range(0, len(entries), 10_000):
        glog.append_envelopes(entries[i : i + 10_000])
    assert merkle.leaf_hash(entries[0]) is not None
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = glog.verify(log_key.vkey, deep=True)
        times.append(time.perf_counter() - t)
        assert report.ok, report.reason
    t = time.perf_counter()
    assert glog.verify(log_key.vkey).ok
    structural = time.perf_counter() - t
    dt = statistics.median(times)
    print(
        f"deep verify, governance mix ({len(entries):,} entries: 40% approvals signed by "
        f"roster keys): {len(entries) / dt:,.0f} entries/s end to end, {spread(times)}; "
        f"deep pass alone ~{len(entries) / max(dt - structural, 1e-9):,.0f}/s"
    )
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()

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
        t = time.perf_counter()
        _verify_deep(_Limited(engine, n), [signer.verifier], None, None, st)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t)
        assert st.signatures == n
    dt = statistics.median(times)
    print(
        f"deep verify (DSSE, {os.cpu_count()} processes) of {n:,}: {n / dt:,.0f}/s, {spread(times)}"
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


if __name__ == "__main__":
    main()

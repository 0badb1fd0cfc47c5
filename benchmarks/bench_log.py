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
import resource
import statistics
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

from sqlalchemy.engine import make_url

from ordinance.log import PREDICATE_REGISTRATION, TransparencyLog, create_schema, make_statement
from ordinance.log._verifying import _State
from ordinance.log.deep import _verify_deep
from ordinance.log.dsse import sign_statement
from ordinance.log.semantics import SemanticState
from ordinance.log.sources import DbSource
from ordinance.log.tiles import export_tiles
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
    ap.add_argument(
        "--only",
        default="structural,deep,governance,tiles,proofs",
        help="comma-separated timed reads to run (default: all)",
    )
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        Cpu.db = engine.url.database
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


class Cpu:
    """CPU seconds spent while timing: this process, its reaped worker processes, and (Linux,
    PostgreSQL) the server backends serving the benchmark's database, which run on the same cores.

    Only backends still connected at the end are counted: a worker process's backend exits
    with it, so for structural verify and tiles export the server's share is a lower bound.
    """

    db: str | None = None  # database name whose server backends to count

    def __init__(self) -> None:
        self.start = self._now()

    @classmethod
    def _now(cls) -> tuple[float, float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, server_cpu(cls.db))

    def report(self, per: int = 0, unit: str = "entry") -> str:
        end = self._now()
        me, kids, pg = (b - a for a, b in zip(self.start, end, strict=True))
        text = f"CPU: this process {me:.2f} s, workers {kids:.2f} s"
        if self.db is not None:
            text += f", PostgreSQL backends still connected {pg:.2f} s"
        if per:
            text += f" ({(me + kids + pg) / per * 1e6:,.0f} µs CPU per {unit})"
        return text


def server_cpu(db: str | None) -> float:
    """CPU seconds of the PostgreSQL backends connected to database ``db`` (Linux /proc)."""
    if db is None or not Path("/proc").is_dir():
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0].split()
            if title[:1] != [b"postgres:"] or db.encode() not in title or b"autovacuum" in title:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


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
    only = set(args.only.split(","))
    if "structural" in only:
        structural(log, signer, size, args)
    if "deep" in only:
        deep(engine, signer, size, args)
    # 5b. semantic deep verification of a governance mix (roster, registrations, approvals
    # signed by approvers' own keys, evaluations, transitions citing them), end to end
    if "governance" in only:
        governance(args)
    if "tiles" in only:
        tiles(log, size, args)
    if "proofs" in only:
        proofs(log, size, args)


def structural(
    log: TransparencyLog, signer: Ed25519Signer, size: int, args: argparse.Namespace
) -> None:
    # 4. structural verification of the whole log
    times = []
    cpu = Cpu()
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = log.verify(signer.vkey)
        times.append(time.perf_counter() - t)
        assert report.ok, report.reason
    dt = statistics.median(times)
    print(
        f"structural verify of {size:,} entries, {report.checkpoints_checked:,} checkpoints: "
        f"{spread(times)} ({size / dt:,.0f} entries/s); {args.repeat} runs' "
        f"{cpu.report(size * args.repeat)}"
    )


def deep(engine: object, signer: Ed25519Signer, size: int, args: argparse.Namespace) -> None:
    # 5. deep verification (DSSE signatures on all cores) of a sample
    n = min(args.deep_entries, size)
    times = []
    cpu = Cpu()
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
        f"{n / dt:,.0f}/s, {spread(times)}; {args.repeat} runs' {cpu.report(n * args.repeat)}"
    )


def tiles(log: TransparencyLog, size: int, args: argparse.Namespace) -> None:
    # 5c. tiles export of the whole log
    times = []
    cpu = Cpu()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            done = export_tiles(log, Path(out) / "tiles")
            times.append(time.perf_counter() - t)
    print(
        f"tiles export of {size:,} entries ({done.tiles:,} tiles, {done.entry_bundles:,} "
        f"entry bundles): {spread(times)}; {args.repeat} runs' {cpu.report()}"
    )


def proofs(log: TransparencyLog, size: int, args: argparse.Namespace) -> None:
    # 6. inclusion proof latency at full size
    rng = random.Random(7)
    times = []
    cpu = Cpu()
    for _ in range(args.proofs):
        i = rng.randrange(size)
        t = time.perf_counter()
        log.prove(i)
        times.append(time.perf_counter() - t)
    times.sort()
    print(
        f"inclusion proof at {size:,}: median {statistics.median(times) * 1e3:.2f} ms, "
        f"p99 {times[int(len(times) * 0.99) - 1] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms; "
        f"{cpu.report(args.proofs, 'proof')}"
    )


def governance_url(db: str | None, tmp: Path) -> str:
    """Where the governance mix is built: the backend under test, never the big log's tables.

    SQLite: a temporary file. PostgreSQL: a schema ``bench_governance`` in the same database,
    emptied first (the 1M log in the public schema is left alone).
    """
    if db is None or make_url(db).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp / 'governance.db'}"
    import psycopg

    plain = make_url(db).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_governance CASCADE")
        conn.execute("CREATE SCHEMA bench_governance")
    sep = "&" if "?" in db else "?"
    return f"{db}{sep}options=-csearch_path%3Dbench_governance"


def governance(args: argparse.Namespace) -> None:
    """A log of N versions x (registration, 2 approvals, evaluation, transition), on --db's backend."""
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
    engine = make_engine(governance_url(args.db, Path(tmp.name)))
    with engine.begin() as conn:
        create_schema(conn)
    glog = TransparencyLog(engine, log_key, ORIGIN)
    for i in range(0, len(entries), 10_000):
        glog.append_envelopes(entries[i : i + 10_000])
    assert merkle.leaf_hash(entries[0]) is not None
    times = []
    cpu = Cpu()
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = glog.verify(log_key.vkey, deep=True)
        times.append(time.perf_counter() - t)
        assert report.ok, report.reason
    used = cpu.report(len(entries) * args.repeat)
    t = time.perf_counter()
    assert glog.verify(log_key.vkey).ok
    structural = time.perf_counter() - t
    dt = statistics.median(times)
    print(
        f"deep verify, governance mix ({len(entries):,} entries: 40% approvals signed by "
        f"roster keys): {len(entries) / dt:,.0f} entries/s end to end, {spread(times)}; "
        f"deep pass alone ~{len(entries) / max(dt - structural, 1e-9):,.0f}/s; "
        f"on {engine.dialect.name}, {args.repeat} runs' {used}"
    )
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()

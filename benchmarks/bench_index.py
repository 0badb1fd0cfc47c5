"""The cost of treating the index as a cache of the log.

    python benchmarks/bench_index.py [--filler 100000] [--versions 20] [--db URL] [--repeat 5]

Builds a workspace with ``--versions`` registered versions (each with approvals, a waiver, a
revocation and a promotion) on a log padded with ``--filler`` unrelated entries, then prints:

* the trusted head: advancing it over the whole log (a fresh workspace), and over the few
  entries one command appends (a saved head);
* guarded reads (``get_version``, ``transitions``, collecting approvals) against the same
  reads of the unguarded index, median of ``--repeat`` runs: the check is linear in the rows
  and entries read, not in the size of the log.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import small_manifest
from ordinance.approvals import Member, Roster, apply_roster, approve, collect_approvals
from ordinance.log import PREDICATE_REGISTRATION, make_statement
from ordinance.signing import Ed25519Signer
from ordinance.store._approval_tables import ApprovalStore
from ordinance.store.registry import SqlRegistry
from ordinance.workspace import Workspace, init_workspace

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _median(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(root: Path, db: str | None, versions: int, filler: int) -> Workspace:
    ws = init_workspace(root / ".ordinance", db_url=db, origin="bench.ordinance.local/index")
    people = {n: Ed25519Signer.from_seed(bytes([i + 1]) * 32, n) for i, n in enumerate("vra")}
    roles = {"v": {"model-validator"}, "r": {"risk-officer"}, "a": {"ml-engineer"}}
    roster = Roster(
        tuple(
            Member(id=f"{n}@bench", roles=frozenset(roles[n]), keys=(s.verifier,))
            for n, s in people.items()
        )
    )
    apply_roster(ws, roster, actor="admin", now=T0)
    log = ws.audit_log()
    batch = []
    for i in range(filler):
        digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
        batch.append(make_statement(f"filler-{i % 101}", digest, PREDICATE_REGISTRATION, {"i": i}))
        if len(batch) == 5000:
            log.append_statements(batch)
            batch = []
    if batch:
        log.append_statements(batch)
    for n in range(versions):
        version = f"1.{n}.0"
        ws.register(small_manifest(root / "m" / version, version=version), now=T0)
        approve(ws, "toy", version, "production", people["v"], now=T0 + timedelta(hours=1))
        approve(ws, "toy", version, "production", people["r"], now=T0 + timedelta(hours=1))
    return ws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filler", type=int, default=100_000)
    ap.add_argument("--versions", type=int, default=20)
    ap.add_argument("--db", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        ws = build(root, args.db, args.versions, args.filler)
        size = ws.audit_log().size()
        print(
            f"built: {size} log entries, {args.versions} versions in {time.perf_counter() - start:.1f} s"
        )
        print(f"load average: {os.getloadavg()[0]:.2f}")

        head = ws.trusted_head_path
        head.unlink(missing_ok=True)
        fresh = Workspace.open(ws.home, db_url=ws.db_url)
        t_full = _median(
            lambda: (head.unlink(missing_ok=True), fresh.log_reader().trusted_head()), 3
        )
        print(f"trusted head over the whole log ({size} entries): {t_full * 1000:.0f} ms")
        fresh.log_reader().trusted_head()
        ws.audit_log().append_statements(
            [make_statement("x", "0" * 64, PREDICATE_REGISTRATION, {})]
        )
        t_inc = _median(lambda: fresh.log_reader().trusted_head(), args.repeat)
        print(
            f"trusted head from a saved head (+1 entry, new reader each time): {t_inc * 1000:.1f} ms"
        )

        guarded = fresh.registry()
        plain = SqlRegistry(fresh.engine())
        target = f"1.{args.versions // 2}.0"
        v = guarded.get_version("toy", target)
        store_g = ApprovalStore(fresh.engine(), guard=fresh.ledger())
        store_p = ApprovalStore(fresh.engine())
        rows = [
            (
                "get_version",
                lambda: plain.get_version("toy", target),
                lambda: guarded.get_version("toy", target),
            ),
            (
                "list_versions",
                lambda: plain.list_versions("toy"),
                lambda: guarded.list_versions("toy"),
            ),
            ("transitions", lambda: plain.transitions("toy"), lambda: guarded.transitions("toy")),
            (
                "signed (approvals)",
                lambda: store_p.signed("toy", target),
                lambda: store_g.signed("toy", target),
            ),
            ("rosters", store_p.rosters, store_g.rosters),
        ]
        print(f"{'read':<22}{'index only':>12}{'checked':>12}")
        for name, a, b in rows:
            b()  # warm the inclusion-proof cache the way a command's first read does
            print(
                f"{name:<22}{_median(a, args.repeat) * 1000:>10.1f}ms{_median(b, args.repeat) * 1000:>10.1f}ms"
            )
        t = _median(
            lambda: collect_approvals(fresh, v, "production", T0 + timedelta(days=1)), args.repeat
        )
        print(f"collect_approvals (checked, one version): {t * 1000:.1f} ms")
        cold = Workspace.open(ws.home, db_url=ws.db_url)
        t_cold = _median(
            lambda: Workspace.open(ws.home, db_url=ws.db_url).registry().get_version("toy", target),
            args.repeat,
        )
        cold.close()
        print(
            f"get_version in a new process-like workspace (head saved, proofs cold): {t_cold * 1000:.1f} ms"
        )
        fresh.close()
        ws.close()


if __name__ == "__main__":
    main()

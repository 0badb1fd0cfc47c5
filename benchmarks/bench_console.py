"""Server-side render time of the console's inventory page with 1,000 models.

    python benchmarks/bench_console.py [--models N] [--versions-per-model K] [--repeat R]
                                       [--db postgresql+psycopg://...]

Setup (not timed): a workspace whose log and registry hold ``--models`` models with
``--versions-per-model`` versions each (no files; every fact a log entry plus the index row
caching it, as Ordinance writes them): a recorded evaluation per version (stage
``production``, verdicts mixed), denied promotion requests for a third of them, a roster and
signed approvals for some, so the page shows verdicts per stage, last evaluations and pending
approvals for every row.

Timed: ``GET /console/inventory`` on the server's own app (``create_app``) in-process, with a
logged-in session: the database queries, the pending-approval computation and the template
render, i.e. everything the server does for the page (no network, no browser). Target: < 300 ms. Wall and CPU time are both printed: on a
shared machine the wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _support import NOW, load, log_version, synthetic_version


def setup(home: Path, n_models: int, per_model: int, db: str | None) -> str:
    """Fill the workspace the way Ordinance writes it: every fact is a log entry and the
    index row that caches it, in one transaction per model. Returns a member token."""
    import hashlib

    from ordinance import records
    from ordinance.approvals import Member, Roster, apply_roster, sign_approval
    from ordinance.approvals._base import approvals_store
    from ordinance.model import Model
    from ordinance.signing import Ed25519Signer
    from ordinance.store.registry import TransitionRecord
    from ordinance.tokens import TokenStore
    from ordinance.workspace import init_workspace

    ws = init_workspace(home, db_url=db)
    registry = ws.registry()
    log = ws.audit_log()
    vera = Ed25519Signer.generate("vera@bench.example")
    apply_roster(
        ws,
        Roster((Member("vera@bench.example", frozenset({"validator"}), (vera.verifier,)),)),
        actor="bench",
        now=NOW - timedelta(days=500),
    )
    store = approvals_store(ws)
    verdicts = ("pass", "warn", "fail")
    for m in range(n_models):
        model = Model(
            name=f"model-{m:04d}",
            owner=f"team-{m % 13}",
            risk_tier=("high", "limited", "minimal")[m % 3],
            description=f"Synthetic model {m} for the console benchmark",
            tags=("bench", f"group-{m % 5}"),
        )
        with ws.write_transaction("bench setup") as conn:
            denied = []
            for i in range(per_model):
                v = synthetic_version(model, m, i)
                created = v.registered_at
                verdict = verdicts[(m + i) % 3]
                log_version(ws, conn, v, verdict, {"verdict": verdict, "results": []})
                if (m + i) % 3 == 0:
                    t = records.Transition.of(
                        v,
                        from_stage="development",
                        to_stage="production",
                        actor="ci",
                        at=created,
                        kind="denied",
                        reason="approvals missing",
                        details={},
                    )
                    denied.append(
                        TransitionRecord(
                            model=model.name,
                            version=v.version,
                            from_stage="development",
                            to_stage="production",
                            actor="ci",
                            at=created,
                            kind="denied",
                            reason="approvals missing",
                            log_index=ws.append_to_log(t.to_statement(), conn=conn),
                        )
                    )
                if (m + i) % 6 == 0:
                    env = sign_approval(v, "production", vera, "vera@bench.example", now=created)
                    raw = env.to_bytes()
                    store.add_signed(
                        kind="approval",
                        digest=hashlib.sha256(raw).hexdigest(),
                        model=model.name,
                        version=v.version,
                        stage="production",
                        rule="",
                        approver="vera@bench.example",
                        key_id=vera.key_id,
                        signed_at=created,
                        recorded_at=created,
                        expires_at=None,
                        envelope=raw,
                        log_index=log.append_envelopes_in(conn, [raw])[0],
                        conn=conn,
                    )
            registry.apply_transitions_in(conn, denied)
    token, _ = TokenStore(ws.engine()).create("vera@bench.example", "member")
    ws.close()
    return token


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--versions-per-model", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--db", help="a database URL (default: SQLite in the workspace)")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from ordinance.server import create_app
    from ordinance.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".ordinance"
        t0 = time.perf_counter()
        token = setup(home, args.models, args.versions_per_model, args.db)
        n_versions = args.models * args.versions_per_model
        print(
            f"setup: {args.models} models, {n_versions} versions in {time.perf_counter() - t0:.1f} s"
        )
        ws = Workspace.open(home, db_url=args.db)
        ws.log_signer = ws.audit_log().signer
        app = create_app(ws)
        client = TestClient(app, base_url="https://bench")
        page = client.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = client.post("/console/login", data={"csrf": csrf.group(1), "token": token})
        assert r.status_code == 200, r.status_code

        def page() -> tuple[float, float, int, str]:
            t, c = time.perf_counter(), time.process_time()
            r = client.get("/console/inventory")
            assert r.status_code == 200
            return time.perf_counter() - t, time.process_time() - c, len(r.content), r.text

        def cold() -> tuple[float, float, int, str]:
            # the worst case: the read model forgotten, the whole log folded again (a server
            # start); after a write only the new entries are folded (``after a write``)
            app.state.console_cache.invalidate()
            return page()

        def after_write() -> tuple[float, float, int, str]:
            # one new log entry (an evidence record of one version): verified, folded, and
            # the models re-assembled
            ws.append_to_log(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "subject": [{"name": "model-0000@1.0.0", "digest": {"sha256": "a" * 64}}],
                    "predicateType": "https://example.com/bench-note/v1",
                    "predicate": {"note": "bench"},
                }
            )
            return page()

        page()  # warm the template cache and the connection pool
        results = {}
        for label, fn in (
            ("whole log folded (server start)", cold),
            ("after a write (new entries folded)", after_write),
            ("cached read model", page),
        ):
            runs = [fn() for _ in range(args.repeat)]
            wall = sorted(r[0] for r in runs)
            cpu = sorted(r[1] for r in runs)
            results[label] = (wall, cpu)
            size, text = runs[-1][2], runs[-1][3]
        rows = text.count("<tr")
        pending = text.count('class="pending"')
        print(
            f"inventory page: {args.models} models, {n_versions} versions, {rows} table rows, "
            f"{pending} pending, {size / 1024:.0f} KiB of HTML; {load()}"
        )
        for label, (wall, cpu) in results.items():
            p95 = wall[max(0, round(0.95 * len(wall)) - 1)]
            print(
                f"  {label}: wall median {statistics.median(wall) * 1000:.0f} ms "
                f"(p95 {p95 * 1000:.0f}, min {wall[0] * 1000:.0f}); CPU median "
                f"{statistics.median(cpu) * 1000:.0f} ms (min {cpu[0] * 1000:.0f})"
            )
        print("target: < 300 ms on the server (wall time includes waiting for a shared core)")
        ws.close()


if __name__ == "__main__":
    main()

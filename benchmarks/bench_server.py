"""Benchmark: `ordinance serve` through its HTTP API, on loopback.

Prints three figures:

1. registrations per second: CLIENTS concurrent client processes, each registering PER_CLIENT
   versions with small evidence (model file, prediction table, datasheet: uploads by digest,
   then the registration) and checking each for staging;
2. batched log appends: pre-signed DSSE envelopes (signed by a roster member) appended through
   ``POST /v1/log/envelopes`` in batches; target >= 2,000 entries/s;
3. read latency at 50 concurrent clients (``GET`` a version, the latest checkpoint): p50, p99;
   target p99 < 50 ms.

    python benchmarks/bench_server.py [--db URL] [--clients 8] [--per-client 100]
        [--entries 20000] [--batch 1000] [--readers 50] [--warmup 2] [--seconds 10]
        [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

_CLIENT = """
import json, sys, time
from pathlib import Path
from ordinance.client import Remote
url, token, root, worker, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
remote = Remote(url, token)
reg, chk = [], []
for i in range(n):
    d = root / f"w{worker}-{i}"
    d.mkdir(parents=True)
    (d / "model.bin").write_bytes(f"weights {worker}.{i}".encode() * 16)
    (d / "preds.csv").write_text("y,yhat,sex\\n" + "".join(f"{j % 2},{(j // 2) % 2},{'fm'[j % 3 == 0]}\\n" for j in range(200)))
    (d / "datasheet.md").write_text("# data\\n")
    (d / "manifest.yaml").write_text(json.dumps({
        "apiVersion": "ordinance/v1",
        "model": {"name": "bench", "owner": "perf"},
        "version": f"{worker}.{i}.0", "author": "bench@example.com",
        "artifacts": {"path": "model.bin"}, "metrics": {"auc": 0.8},
        "documentation": {"summary": "bench", "intended_use": "bench", "limitations": "none"},
        "evidence": [{"kind": "predictions", "path": "preds.csv", "attributes": {"y_true": "y", "y_pred": "yhat", "sensitive": ["sex"]}},
                     {"kind": "datasheet", "path": "datasheet.md"}],
    }))
    t = time.perf_counter(); remote.register(d / "manifest.yaml"); reg.append(time.perf_counter() - t)
    t = time.perf_counter(); remote.check("bench", f"{worker}.{i}.0", "staging", "json"); chk.append(time.perf_counter() - t)
print(json.dumps({"register": reg, "check": chk}))
"""


def ordinance(*args: str | Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ordinance", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", help="database URL (default: SQLite in the temporary home)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=100)
    ap.add_argument("--entries", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0, help="measured read window")
    ap.add_argument(
        "--warmup", type=float, default=2.0, help="cold-start read window, printed apart"
    )
    ap.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    args = ap.parse_args()

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("ORDINANCE_URL", None)
    tmp = Path(tempfile.mkdtemp(prefix="ordinance-bench-server-"))
    schema = None
    if args.db and args.db.startswith("postgresql"):
        # a schema of its own, dropped at the end: never another log in the database's default
        import uuid

        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        plain = args.db.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.db else "?"
        args.db = f"{args.db}{sep}options=-csearch_path%3D{schema}"
    home = tmp / "server" / ".ordinance"
    init = (
        ["--home", home]
        + (["--db", args.db] if args.db else [])
        + ["init", "--origin", "bench.local/server"]
    )
    ordinance(*init, env=env)
    cfg = yaml.safe_load((home / "config.yaml").read_text())
    cfg["policies"] = {"staging": ["ordinance:baseline"]}
    (home / "config.yaml").write_text(yaml.safe_dump(cfg))
    sys.path.insert(0, str(SRC))
    from ordinance.signing import Ed25519Signer

    member = Ed25519Signer.from_seed(b"\x07" * 32, "bench-admin@example.com")
    roster = {
        "apiVersion": "ordinance/v1",
        "kind": "Roster",
        "members": [{"id": "bench-admin@example.com", "roles": ["admin"], "keys": [member.vkey]}],
    }
    (tmp / "roster.yaml").write_text(yaml.safe_dump(roster))
    ordinance("--home", home, "roster", "apply", tmp / "roster.yaml", "--actor", "bench", env=env)

    def token(identity: str, scope: str) -> str:
        out = ordinance(
            "--home",
            home,
            "token",
            "create",
            "--identity",
            identity,
            "--scope",
            scope,
            "--format",
            "json",
            env=env,
        )
        return str(json.loads(out)["token"])

    ci, admin = token("ci", "ci"), token("bench-admin@example.com", "admin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ordinance",
            "--home",
            str(home),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        print(
            f"server: {url} ({args.db or 'SQLite'}), {args.workers} process(es), {os.cpu_count()} cores"
        )
        _registrations(url, ci, tmp, args, env)
        _appends(url, admin, member, args)
        _reads(url, ci, args, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if schema is not None:
            import psycopg

            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _registrations(
    url: str, token: str, tmp: Path, args: argparse.Namespace, env: dict[str, str]
) -> None:
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CLIENT,
                url,
                token,
                str(tmp / "clients"),
                str(w),
                str(args.per_client),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(args.clients)
    ]
    reg: list[float] = []
    chk: list[float] = []
    failed = 0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            failed += 1
            continue
        data = json.loads(out)
        reg += data["register"]
        chk += data["check"]
    elapsed = time.perf_counter() - t0
    n = args.clients * args.per_client
    models = httpx.get(
        f"{url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).json()
    versions = [v["version"] for m in models for v in m["versions"]]
    if failed:
        print(f"registrations: {failed} of {args.clients} clients failed (see their stderr)")
    else:
        assert len(versions) == len(set(versions)) == n, "every registration present once"
    if not reg:
        return
    print(
        f"registrations: {n} by {args.clients} clients (+{n} checks) in {elapsed:.1f} s: "
        f"{n / elapsed:.1f} registrations+checks/s; register p50 {statistics.median(reg) * 1000:.0f} ms "
        f"p99 {pct(reg, 0.99) * 1000:.0f} ms; check p50 {statistics.median(chk) * 1000:.0f} ms"
    )


def _appends(url: str, token: str, member: object, args: argparse.Namespace) -> None:
    from ordinance._canonical import canonical_json
    from ordinance.signing import PAYLOAD_TYPE_INTOTO, sign_envelope

    envs = []
    for i in range(args.entries):
        stmt = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "bench", "digest": {"sha256": f"{i:064x}"}}],
            "predicateType": "https://ordinance.dev/bench-event/v1",
            "predicate": {"n": i},
        }
        env = sign_envelope(canonical_json(stmt), PAYLOAD_TYPE_INTOTO, [member])  # type: ignore[list-item]
        envs.append(base64.b64encode(env.to_bytes()).decode())
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
        t0 = time.perf_counter()
        for i in range(0, len(envs), args.batch):
            r = c.post("/v1/log/envelopes", json={"envelopes": envs[i : i + args.batch]})
            r.raise_for_status()
        elapsed = time.perf_counter() - t0
    print(
        f"batched log appends: {args.entries} entries in batches of {args.batch} in {elapsed:.2f} s: "
        f"{args.entries / elapsed:,.0f} entries/s (target >= 2,000)"
    )


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the server process and its worker processes."""
    stats: dict[int, list[str]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stats[int(d.name)] = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    if pid not in stats:
        return float("nan")
    mine = {pid} | {p for p, f in stats.items() if int(f[1]) == pid}  # uvicorn's workers
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in mine)
    return ticks / os.sysconf("SC_CLK_TCK")


async def _get_loop(
    port: int, token: str, paths: list[str], stop: float, lat: list[float], errors: list[str]
) -> None:
    """One client: a keep-alive HTTP/1.1 connection issuing GETs back to back.

    A minimal client on purpose: the load generator shares the machine's cores with the
    server, and httpx spends about a millisecond of CPU per request on its own.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    try:
        while time.perf_counter() < stop:
            path = paths[n % len(paths)]
            n += 1
            t = time.perf_counter()
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            status = head.split(b" ", 2)[1].decode()
            if status != "200":
                errors.append(status)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(type(exc).__name__)
    finally:
        writer.close()


def _reads(url: str, token: str, args: argparse.Namespace, server_pid: int) -> None:
    models = httpx.get(
        f"{url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).json()
    versions = [v["version"] for m in models for v in m["versions"]][:200]
    port = int(url.rsplit(":", 1)[1])
    for kind in ("checkpoint", "version"):
        if kind == "checkpoint":
            paths = ["/v1/log/checkpoint"]
        else:
            paths = [f"/v1/models/bench/versions/{v}" for v in versions]
        what = "GET /v1/log/checkpoint" if kind == "checkpoint" else "GET a version (verified read)"
        # the first seconds start cold (every answer read and verified once); they are
        # measured and printed apart from the window that follows, which is what a server
        # that has been up for a while answers
        for label, seconds in (("cold start", args.warmup), ("then", args.seconds)):
            if seconds <= 0:
                continue
            _read_window(port, token, paths, args.readers, seconds, server_pid, f"{what}, {label}")


def _read_window(
    port: int, token: str, paths: list[str], readers: int, seconds: float, pid: int, what: str
) -> None:
    latencies: list[float] = []
    errors: list[str] = []

    async def run() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _get_loop(port, token, paths[i:] + paths[:i], stop, latencies, errors)
                for i in range(readers)
            )
        )

    load = os.getloadavg()[0]
    cpu0, own0, t0 = _server_cpu(pid), time.process_time(), time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - t0
    cpu, own = _server_cpu(pid) - cpu0, time.process_time() - own0
    n = max(len(latencies), 1)
    counted = ", ".join(f"{c} x{errors.count(c)}" for c in sorted(set(errors))) or "none"
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = pct(latencies, 0.99) * 1000 if latencies else float("nan")
    print(
        f"reads, {what}, {readers} concurrent clients: {len(latencies)} in "
        f"{elapsed:.1f} s ({len(latencies) / elapsed:,.0f}/s): p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (target p99 < 50 ms); errors: {counted}; server CPU "
        f"{cpu / n * 1000:.2f} ms/request, load generator CPU {own / n * 1000:.2f} ms/request; "
        f"load average {load:.2f} at start"
    )


if __name__ == "__main__":
    main()

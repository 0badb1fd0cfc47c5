"""Benchmark: `ordinance register` of a version with 10,000 evidence rows over 50 files.

Prints the wall time of the CLI end to end (a fresh process, as a pipeline runs it) and of
the in-process Python API. Target: under 2 s.

    python benchmarks/bench_register.py [--rows 10000] [--files 50] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def build_manifest(root: Path, version: str, rows: int, files: int, fmt: str = "json") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model").mkdir(exist_ok=True)
    (root / "model" / "weights.bin").write_bytes(os.urandom(1 << 20))
    paths = []
    for i in range(files):
        p = root / f"report-{i:02d}.json"
        p.write_bytes(os.urandom(64 * 1024))
        paths.append(p.name)
    evidence = [
        {
            "kind": "validation_report",
            "path": paths[i % files],
            "name": f"segment-{i:05d}",
            "attributes": {"segment": i, "metric": "auc"},
        }
        for i in range(rows)
    ]
    doc = {
        "apiVersion": "ordinance/v1",
        "model": {"name": "bench", "owner": "perf"},
        "version": version,
        "author": "bench@example.com",
        "artifacts": {"path": "model"},
        "metrics": {"auc": 0.8},
        "evidence": evidence,
    }
    if fmt == "json":
        m = root / "manifest.json"
        m.write_text(json.dumps(doc, indent=1))
    else:
        m = root / "manifest.yaml"
        m.write_text(yaml.safe_dump(doc, sort_keys=False))
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--manifest-format",
        choices=["json", "yaml"],
        default="json",
        help="a pipeline writing 10,000 entries writes JSON; YAML parsing is ~10x slower",
    )
    ap.add_argument("--db", default=None, help="database URL (default: the workspace's SQLite)")
    args = ap.parse_args()

    from ordinance.workspace import init_workspace

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".ordinance"
        init_workspace(home, db_url=args.db).close()
        env = {**os.environ, "ORDINANCE_HOME": str(home)}
        if args.db:
            env["ORDINANCE_DB"] = args.db
        cli_times = []
        for r in range(args.repeat):
            m = build_manifest(
                Path(tmp) / f"cli{r}", f"1.{r}.0", args.rows, args.files, args.manifest_format
            )
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "ordinance", "register", str(m)],
                env=env,
                capture_output=True,
                text=True,
            )
            cli_times.append(time.perf_counter() - t0)
            if out.returncode != 0:
                sys.exit(f"register failed: {out.stderr}")
        from ordinance.workspace import Workspace

        api_times = []
        with Workspace.open(home, db_url=args.db) as ws:
            for r in range(args.repeat):
                m = build_manifest(
                    Path(tmp) / f"api{r}", f"2.{r}.0", args.rows, args.files, args.manifest_format
                )
                t0 = time.perf_counter()
                ws.register(m)
                api_times.append(time.perf_counter() - t0)
            n = len(ws.registry().get_version("bench", "2.0.0").evidence)
        assert n == args.rows, n
    print(
        f"register: {args.rows} evidence rows, {args.files} files (+1 MiB model), "
        f"{args.manifest_format} manifest, backend "
        f"{'sqlite' if not args.db else args.db.split(':')[0]}"
    )
    print(
        f"  CLI end to end (new process): median {statistics.median(cli_times):.3f} s "
        f"(runs: {', '.join(f'{t:.3f}' for t in cli_times)})   target < 2 s"
    )
    print(f"  Python API (in process):      median {statistics.median(api_times):.3f} s")


if __name__ == "__main__":
    main()

"""Benchmark: fairness where the predictions live — PostgreSQL push-down and Parquet streaming.

1. PostgreSQL (default 10M rows, generated here and loaded with COPY into a fresh schema,
   dropped afterwards): ``compute_fairness(SqlTable(...))`` — one aggregate query, O(groups)
   rows back — against the obvious alternative, fetching the rows into pandas
   (``pandas.read_sql``) and computing locally. Each run is a separate process, so its peak
   RSS (``ru_maxrss``) is its own. Push-down is also run on the first 10% of the rows to
   show its memory does not grow with the table. Targets: >= 10x faster, memory flat.
2. Parquet (default 50M rows, written here as a dataset of 1M-row files in a temporary
   directory): ``compute_fairness(directory)`` streams it with ``pyarrow.dataset`` in
   batches; peak RSS of that process, and of the same on a tenth of the files.

    python benchmarks/bench_pushdown.py                       # 10M rows in PG, 50M Parquet
    python benchmarks/bench_pushdown.py --rows 1000000 --parquet-rows 5000000
    ORDINANCE_TEST_PG_URL=postgresql+psycopg://... python benchmarks/bench_pushdown.py
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHUNK = 1_000_000
RACES = np.array(["African-American", "Caucasian", "Hispanic", "Asian", "Other"])
SEXES = np.array(["Female", "Male", "Non-binary", "Unknown"])
KW = {"y_true": "y_true", "y_pred": "y_pred", "sensitive": ["race", "sex"]}


def chunk(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    race = rng.choice(len(RACES), rows, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    sex = rng.choice(len(SEXES), rows, p=[0.45, 0.45, 0.05, 0.05])
    y = (rng.random(rows) < 0.3 + 0.05 * race).astype(np.int64)
    score = np.clip(rng.normal(0.35 + 0.3 * y + 0.03 * race, 0.2), 0, 1).round(4)
    return pa.table(
        {
            "race": RACES[race],
            "sex": SEXES[sex],
            "y_true": y,
            "y_pred": (score >= 0.5).astype(np.int64),
            "score": score,
            "weight": rng.integers(1, 17, rows) / 4.0,
        }
    )


def chunks(rows: int) -> list[tuple[int, int]]:
    return [(i, min(CHUNK, rows - start)) for i, start in enumerate(range(0, rows, CHUNK))]


# --------------------------------------------------------------------------- children


def child(kind: str, url: str, target: str, weighted: bool) -> None:
    """One measurement in this process: print seconds and the report digest as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import hashlib

    import pandas  # noqa: F401  (imported by every path; part of the baseline)
    import sqlalchemy  # noqa: F401

    from ordinance.metrics import SqlTable, compute_fairness

    kw = dict(KW, sample_weight="weight" if weighted else None)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if kind == "pushdown":
        source = (
            SqlTable(url, table=target)
            if not target.startswith("SELECT")
            else SqlTable(url, query=target)
        )
        report = compute_fairness(source, **kw)  # type: ignore[arg-type]
    elif kind == "pandas":
        import pandas as pd
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        cols = ["race", "sex", "y_true", "y_pred", "weight"]
        frame = pd.read_sql(
            sa.select(*(sa.column(c) for c in cols)).select_from(sa.table(target)), engine
        )
        engine.dispose()
        report = compute_fairness(frame, **kw)  # type: ignore[arg-type]
    else:  # parquet
        report = compute_fairness(target, **kw)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(json.dumps(report.to_dict(), sort_keys=True).encode()).hexdigest()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": report.n_rows,
                "digest": digest[:16],
                "peak_mib": peak,
                "baseline_mib": baseline,
            }
        )
    )


def run_child(*args: str) -> dict[str, float]:
    """Run a child measurement in a fresh interpreter; it reports its own peak RSS
    (``ru_maxrss`` of itself) and the RSS after imports, before computing."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- PostgreSQL


def load_pg(url: str, schema: str, rows: int) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE UNLOGGED TABLE "{schema}".preds (race text, sex text, y_true integer, '
            "y_pred integer, score double precision, weight double precision)"
        )
        with conn.cursor().copy(f'COPY "{schema}".preds FROM STDIN (FORMAT csv)') as copy:
            for i, n in chunks(rows):
                buf = io.BytesIO()
                pa_csv.write_csv(chunk(n, i), buf, pa_csv.WriteOptions(include_header=False))
                copy.write(buf.getvalue())
        conn.execute(f'ANALYZE "{schema}".preds')


def drop_pg(url: str, schema: str) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench_pg(url: str, rows: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    t0 = time.perf_counter()
    load_pg(url, schema, rows)
    print(f"## PostgreSQL: {rows:,} rows loaded with COPY in {time.perf_counter() - t0:.1f} s")
    sep = "&" if "?" in url else "?"
    surl = f"{url}{sep}options=-csearch_path%3D{schema}"
    try:
        small = run_child("pushdown", surl, f"SELECT * FROM preds LIMIT {rows // 10}", "0")
        push = run_child("pushdown", surl, "preds", "0")
        push_w = run_child("pushdown", surl, "preds", "1")
        local = run_child("pandas", surl, "preds", "0")
        local_w = run_child("pandas", surl, "preds", "1")
    finally:
        drop_pg(url, schema)
    assert push["digest"] == local["digest"], "push-down and local reports differ"
    assert push_w["digest"] == local_w["digest"], "weighted push-down and local reports differ"
    print("   (20 intersectional groups; reports byte-identical between the two ways: yes)")
    for name, p, lo in (("unweighted", push, local), ("weighted", push_w, local_w)):
        print(
            f"   {name:10s} push-down {p['seconds']:6.2f} s, peak RSS {p['peak_mib']:5.0f} MiB | "
            f"read_sql + local {lo['seconds']:6.2f} s, peak RSS {lo['peak_mib']:5.0f} MiB | "
            f"{lo['seconds'] / p['seconds']:5.1f}x faster"
        )
    print(
        f"   push-down on {rows // 10:,} rows: {small['seconds']:.2f} s, peak RSS "
        f"{small['peak_mib']:.0f} MiB (vs {push['peak_mib']:.0f} MiB on {rows:,}: memory flat; "
        f"{push['baseline_mib']:.0f} MiB after imports)"
    )


# --------------------------------------------------------------------------- Parquet


def bench_parquet(rows: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="ordinance-bench-"))
    try:
        full, tenth = root / "full", root / "tenth"
        full.mkdir()
        tenth.mkdir()
        t0 = time.perf_counter()
        parts = chunks(rows)
        for i, n in parts:
            path = full / f"part-{i:05d}.parquet"
            pq.write_table(chunk(n, i), path, row_group_size=256 * 1024)
            if i < max(1, len(parts) // 10):
                os.link(path, tenth / path.name)
        size = sum(f.stat().st_size for f in full.iterdir())
        print(
            f"## Parquet: {rows:,} rows in {len(parts)} files ({size / 2**20:,.0f} MiB) "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        small = run_child("parquet", "", str(tenth), "0")
        big = run_child("parquet", "", str(full), "0")
        print(
            f"   {big['rows']:,} rows streamed in {big['seconds']:.1f} s "
            f"({big['rows'] / big['seconds'] / 1e6:.1f}M rows/s), peak RSS {big['peak_mib']:.0f} MiB "
            f"(after imports {big['baseline_mib']:.0f} MiB)"
        )
        print(
            f"   {small['rows']:,} rows: {small['seconds']:.1f} s, peak RSS "
            f"{small['peak_mib']:.0f} MiB (memory independent of rows)"
        )
    finally:
        shutil.rmtree(root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="PostgreSQL rows")
    ap.add_argument("--parquet-rows", type=int, default=50_000_000)
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-parquet", action="store_true")
    ap.add_argument("--child", nargs=4, metavar=("KIND", "URL", "TARGET", "WEIGHTED"))
    args = ap.parse_args()
    if args.child:
        kind, url, target, weighted = args.child
        child(kind, url, target, weighted == "1")
        return
    url = os.environ.get("ORDINANCE_TEST_PG_URL", DEFAULT_URL)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if not args.skip_pg:
        bench_pg(url, args.rows)
    if not args.skip_parquet:
        bench_parquet(args.parquet_rows)


if __name__ == "__main__":
    main()

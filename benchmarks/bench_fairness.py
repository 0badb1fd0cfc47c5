"""Benchmark: Ordinance's fairness metrics against fairlearn's MetricFrame, side by side.

Prints three figures for a synthetic table (default 10M rows, two sensitive features with
5 x 4 = 20 intersectional groups, labels, predictions and a score):

1. speed ratio: Ordinance's ``compute_fairness`` on the in-memory DataFrame vs ``MetricFrame``
   computing the same metrics (7 rates + count) on the same rows. MetricFrame is timed on a
   sample (``--mf-rows``, default 1M) and scaled linearly to the full table -- its cost is
   linear in the rows (one pandas groupby, then each metric per group);
2. end to end: ``ordinance metrics fairness`` on the table written as CSV, in a subprocess;
3. peak memory: peak RSS while computing (table + working memory) over the table's
   in-memory size, for the DataFrame and for the CLI reading the CSV.

Targets: ratio >= 100x, CLI < 15 s, peak < 2x the table.

    python benchmarks/bench_fairness.py               # 10M rows
    python benchmarks/bench_fairness.py --rows 1000000 --mf-rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RACES = ("African-American", "Caucasian", "Hispanic", "Asian", "Other")
SEXES = ("Female", "Male", "Non-binary", "Unknown")


def make_table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(len(RACES), size=rows, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    sex = rng.choice(len(SEXES), size=rows, p=[0.45, 0.45, 0.05, 0.05])
    base = 0.3 + 0.05 * race + 0.02 * sex
    y_true = (rng.random(rows) < base).astype(np.int64)
    score = np.clip(rng.normal(0.35 + 0.3 * y_true + 0.03 * race, 0.2), 0, 1).round(4)
    return pd.DataFrame(
        {
            "race": pd.Series(np.asarray(RACES)[race], dtype="str"),
            "sex": pd.Series(np.asarray(SEXES)[sex], dtype="str"),
            "y_true": y_true,
            "y_pred": (score >= 0.5).astype(np.int64),
            "score": score,
        }
    )


def time_ordinance(df: pd.DataFrame, repeats: int = 3) -> float:
    from ordinance.metrics.fairness import compute_fairness

    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        compute_fairness(df, y_true="y_true", y_pred="y_pred", sensitive=["race", "sex"])
        best = min(best, time.perf_counter() - t)
    return best


def time_metricframe(df: pd.DataFrame) -> float:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "true_negative_rate": true_negative_rate,
        "false_negative_rate": false_negative_rate,
        "accuracy_score": accuracy_score,
        "precision_score": precision_score,
        "count": count,
    }
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics=metrics,
            y_true=df["y_true"],
            y_pred=df["y_pred"],
            sensitive_features=df[["race", "sex"]],
        )
        mf.difference()
        mf.ratio()
    return time.perf_counter() - t


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class PeakRss:
    """Sample this process's RSS every millisecond on a thread; keep the maximum."""

    def __init__(self) -> None:
        self.peak = rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib())
            time.sleep(0.001)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib())


def memory_child(rows: int) -> None:
    """In a fresh process: build the table, then sample RSS while computing."""
    import gc

    from ordinance.metrics.fairness import compute_fairness

    df = make_table(rows)
    table_bytes = int(df.memory_usage(deep=True).sum())
    gc.collect()
    before = rss_kib()
    with PeakRss() as peak:
        compute_fairness(df, y_true="y_true", y_pred="y_pred", sensitive=["race", "sex"])
    extra = (peak.peak - before) * 1024
    print(
        json.dumps(
            {
                "table_bytes": table_bytes,
                "extra_bytes": extra,
            }
        )
    )


def cli_child(cmd: list[str]) -> None:
    """Run the CLI as this process's only child; print its wall time and peak RSS."""
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"wall": wall, "peak_bytes": peak}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--mf-rows", type=int, default=1_000_000, help="MetricFrame sample size")
    ap.add_argument("--skip-cli", action="store_true", help="skip the CSV end-to-end run")
    ap.add_argument("--keep", type=Path, help="write the CSV here (kept) instead of a temp dir")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cli-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.cli_child:
        cli_child(args.cli_child)
        return

    print(f"# Ordinance fairness benchmark: {args.rows:,} rows, 2 sensitive features, 20 groups")
    print(f"# {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    t = time.perf_counter()
    df = make_table(args.rows)
    print(
        f"table built in {time.perf_counter() - t:.1f} s; "
        f"{df.memory_usage(deep=True).sum() / 2**20:,.0f} MiB in memory"
    )

    ordinance_s = time_ordinance(df)
    mf_rows = min(args.mf_rows, args.rows)
    mf_s = time_metricframe(df.iloc[:mf_rows])
    mf_scaled = mf_s * args.rows / mf_rows
    print("\n## 1. speed, in memory (same metrics: 7 rates + count, difference + ratio)")
    print(
        f"ordinance compute_fairness   {ordinance_s:9.3f} s  ({ordinance_s / args.rows * 1e9:.1f} ns/row)"
    )
    scaled = (
        ""
        if mf_rows == args.rows
        else (f", timed on {mf_rows:,} rows = {mf_s:.2f} s and scaled linearly")
    )
    print(
        f"fairlearn MetricFrame     {mf_scaled:9.3f} s  ({mf_s / mf_rows * 1e6:.1f} us/row{scaled})"
    )
    ratio = mf_scaled / ordinance_s
    print(
        f"speed ratio               {ratio:9.0f}x   target >= 100x: "
        f"{'PASS' if ratio >= 100 else 'FAIL'}"
    )

    print("\n## 3a. peak memory, DataFrame in memory (fresh process)")
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(args.rows)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    mem = json.loads(out)
    peak = (mem["table_bytes"] + mem["extra_bytes"]) / mem["table_bytes"]
    print(
        f"table {mem['table_bytes'] / 2**20:,.0f} MiB; working memory (RSS sampled every ms) "
        f"{mem['extra_bytes'] / 2**20:,.0f} MiB"
    )
    print(
        f"peak = table + working memory = {peak:.2f}x the table   target < 2x: "
        f"{'PASS' if peak < 2 else 'FAIL'}"
    )

    if args.skip_cli:
        return
    tmp = Path(tempfile.mkdtemp(prefix="ordinance-bench-"))
    try:
        csv = args.keep or tmp / "predictions.csv"
        t = time.perf_counter()
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(pa.Table.from_pandas(df, preserve_index=False), csv)
        table_bytes = int(df.memory_usage(deep=True).sum())
        del df
        print(
            f"\n## 2. end to end: ordinance metrics fairness on a {csv.stat().st_size / 2**20:,.0f}"
            f" MiB CSV (written in {time.perf_counter() - t:.1f} s)"
        )
        ordinance = shutil.which("ordinance") or "ordinance"
        cmd = [
            ordinance,
            "metrics",
            "fairness",
            str(csv),
            "--y-true",
            "y_true",
            "--score",
            "score",
            "--threshold",
            "0.5",
            "--sensitive",
            "race",
            "--sensitive",
            "sex",
            "--format",
            "json",
        ]
        out = subprocess.run(
            [sys.executable, __file__, "--cli-child", *cmd],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        cli = json.loads(out)
        print(
            f"wall time {cli['wall']:.2f} s   target < 15 s: "
            f"{'PASS' if cli['wall'] < 15 else 'FAIL'}"
        )
        print(
            f"\n## 3b. peak RSS of that process (whole interpreter, CSV streamed in batches): "
            f"{cli['peak_bytes'] / 2**20:,.0f} MiB = {cli['peak_bytes'] / table_bytes:.2f}x "
            f"the table's in-memory size ({table_bytes / 2**20:,.0f} MiB)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

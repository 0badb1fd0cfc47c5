"""Sample weights against fairlearn's weighted MetricFrame; per-metric bootstrap intervals;
Parquet datasets (local and on a loopback S3 server)."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from helpers import run_cli
from ordinance.errors import InputError
from ordinance.metrics import compute_fairness
from ordinance.metrics.fairness import AGGREGATIONS, METRICS

from ._fairlearn_oracle import FAIRLEARN_METRICS, TOL, close


def weighted_frame(df: pd.DataFrame, sensitive: list[str]) -> MetricFrame:
    metrics = {m: FAIRLEARN_METRICS[m] for m in METRICS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return MetricFrame(
            metrics=metrics,
            y_true=df["y"],
            y_pred=df["p"],
            sensitive_features=df[sensitive],
            sample_params={m: {"sample_weight": df["w"].to_numpy()} for m in metrics},
        )


@st.composite
def weighted_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p_true = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
    p_pred = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    return pd.DataFrame(
        {
            "s0": rng.choice(["a", "b", "c"], n),
            "s1": rng.choice(["x", "y"], n),
            "y": (rng.random(n) < p_true).astype(int),
            "p": (rng.random(n) < p_pred).astype(int),
            # dyadic weights: sums are exact in any order
            "w": rng.choice([0.25, 0.5, 1.0, 1.5, 3.0, 8.0], n),
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=weighted_tables(), k=st.integers(1, 2), batch_rows=st.integers(1, 64))
def test_weighted_metrics_equal_fairlearn(df: pd.DataFrame, k: int, batch_rows: int) -> None:
    sens = ["s0", "s1"][:k]
    report = compute_fairness(
        df, y_true="y", y_pred="p", sensitive=sens, sample_weight="w", batch_rows=batch_rows
    )
    mf = weighted_frame(df, sens)
    by_group = mf.by_group.dropna(how="all")
    assert len(by_group) == len(report.by_group)
    for g in report.by_group:
        row = by_group.loc[g.group[0] if k == 1 else g.group]
        for m in METRICS:
            ours = g.metrics[m]
            assert close(0.0 if ours is None else ours, float(row[m])), (g.group, m)
        assert g.weight == pytest.approx(df.loc[_mask(df, sens, g.group), "w"].sum(), abs=0)
    for m in METRICS:
        ours = report.overall.metrics[m]
        assert close(0.0 if ours is None else ours, float(mf.overall[m])), m
    fairlearn_aggs = {
        "difference": mf.difference(),
        "ratio": mf.ratio(),
        "difference_to_overall": mf.difference(method="to_overall"),
        "ratio_to_overall": mf.ratio(method="to_overall"),
    }
    for m, d in report.disparities.items():
        for agg in AGGREGATIONS:
            ours = d.value(agg)  # type: ignore[arg-type]
            theirs = float(fairlearn_aggs[agg][m])
            assert close(math.nan if ours is None else ours, theirs), (m, agg, ours, theirs)


def _mask(df: pd.DataFrame, sens: list[str], group: tuple[str | None, ...]) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for col, value in zip(sens, group, strict=True):
        mask &= df[col] == value
    return mask


def test_weighted_summaries_and_cli(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame(
        {
            "s": rng.choice(["a", "b", "c"], n),
            "y": rng.integers(0, 2, n),
            "p": rng.integers(0, 2, n),
            "w": rng.random(n) * 3,
        }
    )
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"], sample_weight="w")
    kw = {"sensitive_features": df["s"], "sample_weight": df["w"]}
    assert report.summary("demographic_parity_difference").value == pytest.approx(
        demographic_parity_difference(df["y"], df["p"], **kw), abs=TOL
    )
    assert report.summary("equalized_odds_difference").value == pytest.approx(
        equalized_odds_difference(df["y"], df["p"], **kw), abs=TOL
    )
    unweighted = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"])
    assert report.by_group[0].count == unweighted.by_group[0].count
    assert report.by_group[0].metrics != unweighted.by_group[0].metrics
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    r = run_cli(
        "metrics", "fairness", str(csv), "--y-true", "y", "--y-pred", "p", "--sensitive", "s",
        "--sample-weight", "w", "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["sample_weight"] == "w"
    assert data["by_group"][0]["weighted_confusion"]["tp"] == pytest.approx(
        report.by_group[0].weighted_confusion.tp  # type: ignore[union-attr]
    )


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, None, 1.0, 1.0], "has missing values"),
        ([1.0, -1.0, 1.0, 1.0], "has negative values"),
        ([1.0, float("inf"), 1.0, 1.0], "NaN or infinite"),
        (["x", "y", "z", "w"], "is not numeric"),
    ],
)
def test_bad_weights_are_input_errors(weights: list[object], message: str) -> None:
    df = pd.DataFrame({"s": ["a", "b"] * 2, "y": [1, 0, 1, 0], "p": [1, 1, 0, 0], "w": weights})
    with pytest.raises(InputError, match=message):
        compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"], sample_weight="w")


def test_weights_and_bootstrap_together_are_refused() -> None:
    df = pd.DataFrame({"s": ["a", "b"] * 2, "y": [1, 0, 1, 0], "p": [1, 1, 0, 0], "w": [1.0] * 4})
    with pytest.raises(InputError, match="not supported"):
        compute_fairness(
            df, y_true="y", y_pred="p", sensitive=["s"], sample_weight="w", bootstrap=100
        )


def test_every_metric_has_a_seeded_interval() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame(
        {"s": rng.choice(["a", "b"], n), "y": rng.integers(0, 2, n), "p": rng.integers(0, 2, n)}
    )
    kw = {"y_true": "y", "y_pred": "p", "sensitive": ["s"], "bootstrap": 300, "seed": 3}
    a = compute_fairness(df, **kw)  # type: ignore[arg-type]
    b = compute_fairness(df, **kw)  # type: ignore[arg-type]
    assert a.to_dict() == b.to_dict()
    for g in (*a.by_group, a.overall):
        assert set(g.ci) == set(METRICS)
        for m in METRICS:
            ci = g.ci[m]
            value = g.metrics[m]
            assert ci.low is not None and ci.high is not None and value is not None
            assert ci.low <= value <= ci.high
            assert ci.high - ci.low < 0.1
    for d in a.disparities.values():
        assert set(d.ci) == set(AGGREGATIONS)
    json.dumps(a.to_dict(), allow_nan=False)
    # the per-group interval of a rate is the binomial bootstrap's: compare with row resampling
    group = df[df["s"] == "a"]
    rates = [group["p"].sample(len(group), replace=True, random_state=i).mean() for i in range(400)]
    lo, hi = np.quantile(rates, [0.025, 0.975])
    ci = a.group("a").ci["selection_rate"]
    assert ci.low == pytest.approx(lo, abs=0.01) and ci.high == pytest.approx(hi, abs=0.01)


# --------------------------------------------------------------------------- Parquet datasets


def _dataset(root: Path, df: pd.DataFrame, files: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    step = -(-len(df) // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), root / f"part-{i}.parquet")


def _frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "race": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["f", "m"], n),
            "y": rng.integers(0, 2, n),
            "p": rng.integers(0, 2, n),
        }
    )


def test_parquet_dataset_directory_streams_in_batches(tmp_path: Path) -> None:
    df = _frame()
    _dataset(tmp_path / "ds", df, files=7)
    kw = {"y_true": "y", "y_pred": "p", "sensitive": ["race", "sex"]}
    a = compute_fairness(tmp_path / "ds", batch_rows=100, **kw)  # type: ignore[arg-type]
    b = compute_fairness(df, **kw)  # type: ignore[arg-type]
    assert a.to_dict() == b.to_dict()
    r = run_cli(
        "metrics", "fairness", str(tmp_path / "ds"), "--y-true", "y", "--y-pred", "p",
        "--sensitive", "race", "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["n_rows"] == len(df)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on loopback; yields its host:port."""
    pytest.importorskip("moto")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("moto server did not start")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_parquet_dataset_on_s3_compatible_storage(s3_server: str, tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://{s3_server}", region_name="us-east-1")
    s3.create_bucket(Bucket="preds")
    df = _frame(2000, seed=4)
    _dataset(tmp_path / "ds", df, files=3)
    for f in sorted((tmp_path / "ds").iterdir()):
        s3.upload_file(str(f), "preds", f"v1/{f.name}")
    uri = f"s3://preds/v1?endpoint_override={s3_server}&scheme=http&region=us-east-1"
    kw = {"y_true": "y", "y_pred": "p", "sensitive": ["race"]}
    remote = compute_fairness(uri, batch_rows=256, **kw)  # type: ignore[arg-type]
    assert remote.to_dict() == compute_fairness(df, **kw).to_dict()  # type: ignore[arg-type]
    r = run_cli(
        "metrics", "fairness", uri, "--y-true", "y", "--y-pred", "p", "--sensitive", "race",
        "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["table"] == uri
    missing = f"s3://preds/nope?endpoint_override={s3_server}&scheme=http"
    with pytest.raises(InputError, match=r"s3://preds/nope: cannot read table"):
        compute_fairness(missing, **kw)  # type: ignore[arg-type]

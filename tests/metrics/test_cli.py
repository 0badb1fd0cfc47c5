"""``ordinance metrics fairness``, ``ordinance metrics drift`` and ``ordinance explain``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from helpers import run_cli, small_manifest
from ordinance.identity import compute_identity
from ordinance.metrics.explain import artifact_binds_to, validate_explainability_artifact
from ordinance.metrics.fairness import METRICS, compute_fairness

CORE = [
    "ordinance.metrics",
    "ordinance.metrics.fairness",
    "ordinance.metrics._table",
    "ordinance.metrics.drift",
    "ordinance.metrics.explain",
    "ordinance.charts",
]


def _predictions(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(
        {
            "race": rng.choice(["a", "b", "tiny"], n, p=[0.6, 0.37, 0.03]),
            "sex": rng.choice(["f", "m"], n),
            "y": rng.integers(0, 2, n),
            "score": rng.random(n).round(3),
        }
    )
    # "tiny" has only negatives: its TPR/FNR are undefined
    df.loc[df["race"] == "tiny", "y"] = 0
    path = tmp_path / "preds.csv"
    df.to_csv(path, index=False)
    return path


def test_fairness_json_uses_fairlearn_names(tmp_path: Path) -> None:
    path = _predictions(tmp_path)
    res = run_cli(
        "metrics",
        "fairness",
        path,
        "--y-true",
        "y",
        "--score",
        "score",
        "--threshold",
        "0.5",
        "--sensitive",
        "race",
        "--bootstrap",
        "50",
        "--seed",
        "3",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    doc = res.json()
    expected = compute_fairness(
        path, y_true="y", score="score", threshold=0.5, sensitive=["race"], bootstrap=50, seed=3
    )
    assert doc == {"table": str(path), **json.loads(json.dumps(expected.to_dict()))}
    assert set(doc["overall"]["metrics"]) == set(METRICS)
    tiny = next(g for g in doc["by_group"] if g["group"] == ["tiny"])
    assert tiny["small"] is True
    assert tiny["metrics"]["true_positive_rate"] is None
    assert "NaN" not in res.out


def test_fairness_text_table(tmp_path: Path) -> None:
    path = _predictions(tmp_path)
    res = run_cli(
        "metrics",
        "fairness",
        path,
        "--y-true",
        "y",
        "--score",
        "score",
        "--threshold",
        "0.5",
        "--sensitive",
        "race",
        "--sensitive",
        "sex",
        "--bootstrap",
        "20",
    )
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert any(line.startswith("tiny / f") and "undefined" in line for line in lines)
    assert any(line.startswith("overall") for line in lines)
    assert "fewer than 30 rows" in res.out
    assert "demographic_parity_difference" in res.out and "95% CI" in res.out
    header = next(line for line in lines if line.startswith("group"))
    assert all(m in header for m in METRICS)


def test_fairness_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _predictions(tmp_path)
    res = run_cli(
        "metrics", "fairness", path, "--y-true", "nope", "--y-pred", "y", "--sensitive", "race"
    )
    assert res.code == 2
    assert res.err.strip().count("\n") == 0
    assert str(path) in res.err and "'nope'" in res.err
    res = run_cli(
        "metrics",
        "fairness",
        tmp_path / "missing.csv",
        "--y-true",
        "y",
        "--y-pred",
        "y",
        "--sensitive",
        "race",
    )
    assert res.code == 2 and "no such file" in res.err


def test_drift_text_and_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.parquet"
    pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)}).to_csv(
        ref, index=False
    )
    pd.DataFrame({"x": rng.normal(1, 1, 500), "c": rng.choice(["a", "b"], 500)}).to_parquet(cur)
    res = run_cli("metrics", "drift", ref, cur, "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert [f["name"] for f in doc["features"]] == ["x", "c"]
    assert doc["features"][0]["psi"] > 0.25
    res = run_cli("metrics", "drift", ref, cur, "--feature", "x")
    assert res.code == 0
    assert res.out.splitlines()[-1].startswith("x") and "numeric" in res.out


def test_explain_a_registered_version(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    data["label"] = (data["a"] > 0).astype(int)
    data_path = tmp_path / "data.csv"
    data.to_csv(data_path, index=False)
    home = tmp_path / "ws"
    assert run_cli("--home", home, "init").code == 0
    digests = {}
    for version, c in (("1.0.0", 1.0), ("2.0.0", 0.01)):
        d = tmp_path / version
        manifest = small_manifest(d, version=version, artifacts={"path": "model.skops"})
        sio.dump(LogisticRegression(C=c).fit(data[["a", "b"]], data["label"]), d / "model.skops")
        res = run_cli("--home", home, "register", manifest)
        assert res.code == 0, res.err
        digests[version] = compute_identity(d / "model.skops").root_digest
    out = tmp_path / "out"
    res = run_cli(
        "--home",
        home,
        "explain",
        "toy@1.0.0",
        "--data",
        data_path,
        "--target",
        "label",
        "--out",
        out,
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    doc = res.json()
    artifact = validate_explainability_artifact(out / "toy-1.0.0.explainability.json")
    assert artifact == doc["artifact"]
    assert (out / "toy-1.0.0.explainability.svg").is_file()
    assert doc["evidence"]["kind"] == "explainability"
    assert artifact_binds_to(artifact, digests["1.0.0"])
    assert not artifact_binds_to(artifact, digests["2.0.0"])
    res = run_cli(
        "--home",
        home,
        "explain",
        "toy@1.0.0",
        "--data",
        data_path,
        "--target",
        "nope",
        "--out",
        out,
    )
    assert res.code == 2 and "'nope'" in res.err


def test_core_modules_import_no_cli_or_renderers() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('click', 'rich', 'weasyprint')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Issue 17's correctness cases, each against fairlearn, scipy or the documented formula."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equalized_odds_difference
from sklearn.exceptions import UndefinedMetricWarning

from helpers import run_cli
from ordinance.errors import InputError
from ordinance.metrics import compute_drift, compute_fairness
from ordinance.metrics.fairness import MISSING

from ._fairlearn_oracle import FAIRLEARN_METRICS, TOL


def _psi(r: list[float], c: list[float], eps: float = 1e-4) -> float:
    """The documented definition: only empty bins become epsilon."""
    total = 0.0
    for ri, ci in zip(r, c, strict=True):
        ri, ci = ri or eps, ci or eps
        total += (ci - ri) * math.log(ci / ri)
    return total


def test_psi_floors_only_empty_bins() -> None:
    # 100,000 reference rows, one of them in category b: a fraction of 1e-5 < epsilon
    ref = pd.DataFrame({"c": ["a"] * 99_999 + ["b"]})
    cur = pd.DataFrame({"c": ["a"] * 96_000 + ["b"] * 4_000})
    f = compute_drift(ref, cur).feature("c")
    expected = _psi([0.99999, 1e-5], [0.96, 0.04])
    assert f.psi == pytest.approx(expected, rel=1e-12)
    assert f.psi > 0.25  # a large shift...
    floored_everything = _psi([0.99999, 1e-4], [0.96, 0.04])
    assert floored_everything < 0.25  # ...that flooring every small fraction called moderate


def test_literal_missing_text_is_not_merged_with_missing_values() -> None:
    # "<missing>" is a real category with TPR 1; the missing rows have TPR 0
    df = pd.DataFrame(
        {
            "s": ["<missing>"] * 4 + [None] * 4,
            "y": [1, 1, 0, 0] * 2,
            "p": [1, 1, 0, 0, 0, 0, 0, 0],
        }
    )
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"])
    assert [g.group for g in report.by_group] == [(MISSING,), ("<missing>",)]
    assert report.group("<missing>").metrics["true_positive_rate"] == 1.0
    assert report.group(MISSING).metrics["true_positive_rate"] == 0.0
    assert report.disparity("true_positive_rate").difference == 1.0
    mf = MetricFrame(
        metrics=FAIRLEARN_METRICS["true_positive_rate"],
        y_true=df["y"],
        y_pred=df["p"],
        sensitive_features=df["s"].fillna("\x00missing"),
    )
    assert mf.difference() == 1.0
    d = report.to_dict()
    assert [g["group"] for g in d["by_group"]] == [[None], ["<missing>"]]


def test_numeric_sensitive_values_in_csv_are_typed_like_parquet(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 2, n)
    p = rng.integers(0, 2, n)
    band = rng.choice([1, 2, 3], n)
    text = {1: ["1", "1.0", "01"], 2: ["2", "2.00", "02"], 3: ["3.5"]}
    spelled = [text[b][i % len(text[b])] for i, b in enumerate(band)]
    csv = tmp_path / "t.csv"
    pd.DataFrame({"band": spelled, "y": y, "p": p}).to_csv(csv, index=False)
    parquet = tmp_path / "t.parquet"
    values = np.where(band == 3, 3.5, band.astype(float))
    pd.DataFrame({"band": values, "y": y, "p": p}).to_parquet(parquet)
    a = compute_fairness(csv, y_true="y", y_pred="p", sensitive=["band"], batch_rows=50)
    b = compute_fairness(parquet, y_true="y", y_pred="p", sensitive=["band"], batch_rows=50)
    assert [g.group for g in a.by_group] == [("1",), ("2",), ("3.5",)]
    assert a.to_dict() == b.to_dict()
    # the streaming CSV reader and a whole-table read agree too
    from ordinance.metrics._table import read_table

    c = compute_fairness(read_table(csv), y_true="y", y_pred="p", sensitive=["band"])
    assert c.to_dict() == a.to_dict()
    # a column with any real text stays text: "01" and "1" are then different categories
    mixed = tmp_path / "m.csv"
    pd.DataFrame({"s": ["1", "01", "x", "1"], "y": [1, 0, 1, 0], "p": [1, 0, 0, 1]}).to_csv(
        mixed, index=False
    )
    m = compute_fairness(mixed, y_true="y", y_pred="p", sensitive=["s"])
    assert [g.group for g in m.by_group] == [("01",), ("1",), ("x",)]


def test_pos_label_1_0_on_float_labels(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    pd.DataFrame(
        {"s": ["a", "b"] * 20, "y": [0.0, 1.0, 1.0, 0.0] * 10, "p": [1.0, 1.0, 0.0, 0.0] * 10}
    ).to_csv(csv, index=False)
    base = ["metrics", "fairness", str(csv), "--y-true", "y", "--y-pred", "p", "--sensitive", "s"]
    outs = []
    for label in ("1.0", "1"):
        r = run_cli(*base, "--pos-label", label, "--format", "json")
        assert r.code == 0, r.out + r.err
        outs.append(json.loads(r.out))
    assert outs[0]["by_group"] == outs[1]["by_group"]
    assert outs[0]["overall"]["confusion"] == {"tn": 10, "fp": 10, "fn": 10, "tp": 10}


def test_na_is_a_category_unless_configured(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("s,y,p\nNA,1,1\nNA,0,1\nEU,1,0\n,0,0\n")
    report = compute_fairness(csv, y_true="y", y_pred="p", sensitive=["s"])
    assert [g.group for g in report.by_group] == [(MISSING,), ("EU",), ("NA",)]
    assert report.group("NA").count == 2
    configured = compute_fairness(
        csv, y_true="y", y_pred="p", sensitive=["s"], na_values=["", "NA"]
    )
    assert [g.group for g in configured.by_group] == [(MISSING,), ("EU",)]
    assert configured.group(MISSING).count == 3
    r = run_cli(
        "metrics", "fairness", str(csv), "--y-true", "y", "--y-pred", "p", "--sensitive", "s",
        "--na-value", "NA", "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["by_group"][0]["group"] == [None]
    # drift: "NA" is a category too
    ref = tmp_path / "ref.csv"
    ref.write_text("c\n" + "NA\n" * 10 + "EU\n" * 10)
    cur = tmp_path / "cur.csv"
    cur.write_text("c\n" + "NA\n" * 10 + "EU\n" * 10)
    f = compute_drift(ref, cur).feature("c")
    assert [b.label for b in f.bins] == ["EU", "NA"] and f.psi == 0.0


def test_duplicated_column_names(tmp_path: Path) -> None:
    same = tmp_path / "same.csv"
    same.write_text("s,y,p,y\na,1,1,1\nb,0,1,0\n")
    report = compute_fairness(same, y_true="y", y_pred="p", sensitive=["s"])
    assert report.n_rows == 2
    differ = tmp_path / "differ.csv"
    differ.write_text("s,y,p,y\na,1,1,1\nb,0,1,1\n")
    with pytest.raises(
        InputError, match=r"column 'y' appears twice with different values \(row 2\)"
    ):
        compute_fairness(differ, y_true="y", y_pred="p", sensitive=["s"])
    r = run_cli(
        "metrics", "fairness", str(differ), "--y-true", "y", "--y-pred", "p", "--sensitive", "s"
    )
    assert r.code == 2
    assert "appears twice" in (r.out + r.err) and "Traceback" not in (r.out + r.err)
    table = pd.DataFrame([[1, 0, 1]], columns=["s", "y", "y"])
    with pytest.raises(InputError, match="column 'y' appears twice"):
        compute_fairness(table, y_true="y", y_pred="y", sensitive=["s"])


def test_drift_reference_with_inf_is_an_input_error(tmp_path: Path) -> None:
    ref = tmp_path / "ref.csv"
    ref.write_text("x\n" + "".join(f"{i / 7}\n" for i in range(50)) + "inf\n")
    cur = tmp_path / "cur.csv"
    cur.write_text("x\n" + "".join(f"{i / 7}\n" for i in range(50)))
    with pytest.raises(InputError, match=r"ref\.csv: column 'x' row 51 is infinite"):
        compute_drift(ref, cur)
    r = run_cli("metrics", "drift", str(ref), str(cur))
    assert r.code == 2 and "nan]" not in (r.out + r.err)
    # infinite *current* values count in the open-ended outer bin
    f = compute_drift(cur, ref).feature("x")
    assert f.bins[-1].label.endswith(", inf]") and f.bins[-1].current_count == 6
    assert all("nan" not in b.label for b in f.bins)


def test_stray_text_in_a_numeric_feature_is_an_input_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ages = rng.normal(40, 10, 500).round(1)
    ref = tmp_path / "ref.csv"
    pd.DataFrame({"age": ages}).to_csv(ref, index=False)
    cur = tmp_path / "cur.csv"
    stray = ages.astype(object)
    stray[17] = "abc"
    pd.DataFrame({"age": stray}).to_csv(cur, index=False)
    with pytest.raises(
        InputError, match=r"cur\.csv: column 'age' row 18 holds 'abc' among numbers"
    ):
        compute_drift(ref, cur)
    r = run_cli("metrics", "drift", str(ref), str(cur))
    assert r.code == 2 and "row 18" in (r.out + r.err)
    # a Parquet reference (typed) and the same CSV: still an error
    pq = tmp_path / "ref.parquet"
    pd.DataFrame({"age": ages}).to_parquet(pq)
    with pytest.raises(InputError, match="row 18"):
        compute_drift(pq, cur)
    # declared categorical: compared by category, no error
    f = compute_drift(ref, cur, categorical=["age"]).feature("age")
    assert f.kind == "categorical"
    # identical numeric distributions, CSV against Parquet: no drift
    same = compute_drift(pq, ref).feature("age")
    assert same.kind == "numeric" and same.psi == 0.0


def test_identifiers_and_the_label_are_left_out_by_default() -> None:
    rng = np.random.default_rng(0)
    n = 200

    def frame(offset: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": np.arange(n) + offset,
                "row": np.arange(n) + offset,
                "email": [f"u{i + offset}@x" for i in range(n)],
                "age": rng.normal(40, 10, n),
                "city": rng.choice(["a", "b"], n),
                "label": rng.integers(0, 2, n),
            }
        )

    report = compute_drift(frame(0), frame(n), exclude=["label"])
    assert [f.name for f in report.features] == ["age", "city"]
    assert report.excluded == {
        "customer_id": "identifier (by name)",
        "row": "identifier (every value distinct)",
        "email": "identifier (every value distinct)",
        "label": "excluded",
    }
    # named explicitly, a column is compared whatever it looks like
    assert compute_drift(frame(0), frame(n), features=["row"]).feature("row").psi > 1


def test_strict_undefined_rates_match_fairlearn_and_text_names_groups(tmp_path: Path) -> None:
    # group c has no negatives (FPR undefined), group d no positives (TPR undefined)
    df = pd.DataFrame(
        {
            "s": ["a"] * 6 + ["b"] * 6 + ["c"] * 3 + ["d"] * 3,
            "y": [1, 1, 1, 0, 0, 0] * 2 + [1, 1, 1] + [0, 0, 0],
            "p": [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1],
        }
    )
    strict = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"])
    skip = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"], undefined="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected = equalized_odds_difference(df["y"], df["p"], sensitive_features=df["s"])
    eod = strict.summary("equalized_odds_difference").value
    assert eod == pytest.approx(expected, abs=TOL)
    assert (skip.summary("equalized_odds_difference").value or 0) < (eod or 0)
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    args = ["metrics", "fairness", str(csv), "--y-true", "y", "--y-pred", "p", "--sensitive", "s"]
    r = run_cli(*args)
    assert r.code == 0, r.out + r.err
    assert "undefined rates, counted as 0 in disparities (strict, as fairlearn):" in r.out
    assert "  true_positive_rate: d" in r.out
    assert "  false_positive_rate: c" in r.out
    r = run_cli(*args, "--undefined", "skip", "--format", "json")
    d = json.loads(r.out)
    assert d["undefined_rates"] == "skip"
    assert d["disparities"]["true_positive_rate"]["undefined_groups"] == [["d"]]

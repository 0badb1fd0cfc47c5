"""Reading tables, labels, missing groups, small groups, bootstrap intervals and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ordinance.errors import EXIT_USAGE, InputError
from ordinance.metrics.fairness import MISSING, compute_fairness

from ._fairlearn_oracle import assert_matches_fairlearn, metric_frame


def _table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(["a", "b", "c"], n, p=[0.6, 0.35, 0.05])
    sex = rng.choice(["f", "m"], n)
    y = (rng.random(n) < np.where(race == "a", 0.3, 0.5)).astype(int)
    score = np.clip(rng.normal(0.3 + 0.4 * y, 0.25), 0, 1)
    return pd.DataFrame(
        {"race": race, "sex": sex, "y": y, "score": score, "p": (score >= 0.5).astype(int)}
    )


def _files(df: pd.DataFrame, tmp_path: Path) -> tuple[Path, Path]:
    csv, parquet = tmp_path / "t.csv", tmp_path / "t.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(parquet, row_group_size=97)
    return csv, parquet


def test_csv_parquet_arrow_and_dataframe_agree(tmp_path: Path) -> None:
    df = _table()
    csv, parquet = _files(df, tmp_path)
    kw = {"y_true": "y", "y_pred": "p", "sensitive": ["race", "sex"]}
    reports = [
        compute_fairness(src, batch_rows=64, **kw)  # type: ignore[arg-type]
        for src in (df, csv, parquet, pa.Table.from_pandas(df))
    ]
    dicts = [r.to_dict() for r in reports]
    assert all(d == dicts[0] for d in dicts[1:])
    assert_matches_fairlearn(reports[0], metric_frame(df["y"], df["p"], df[["race", "sex"]]))


def test_score_and_threshold_equal_thresholded_predictions() -> None:
    df = _table()
    by_score = compute_fairness(df, y_true="y", score="score", threshold=0.5, sensitive=["race"])
    by_pred = compute_fairness(df, y_true="y", y_pred="p", sensitive=["race"])
    assert by_score.by_group == by_pred.by_group
    assert by_score.prediction == {"y_true": "y", "score": "score", "threshold": 0.5}


def test_missing_sensitive_values_form_their_own_group(tmp_path: Path) -> None:
    df = _table(60)
    df.loc[[3, 7, 11], "race"] = None
    csv, parquet = _files(df, tmp_path)
    for src in (df, csv, parquet):
        report = compute_fairness(src, y_true="y", y_pred="p", sensitive=["race"])
        missing = report.group(MISSING)
        assert missing.count == 3
        assert missing.small
    filled = df.assign(race=df["race"].fillna("<missing>"))
    assert_matches_fairlearn(
        compute_fairness(df, y_true="y", y_pred="p", sensitive=["race"]),
        metric_frame(filled["y"], filled["p"], filled[["race"]]),
    )


def test_small_groups_are_flagged_not_dropped() -> None:
    df = _table()
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["race"], min_group_size=40)
    assert sum(g.count for g in report.by_group) == report.n_rows == 500
    assert [g.group for g in report.small_groups] == [("c",)]
    assert report.to_dict()["small_groups"] == [["c"]]
    none_small = compute_fairness(df, y_true="y", y_pred="p", sensitive=["race"], min_group_size=0)
    assert none_small.small_groups == ()


@pytest.mark.parametrize(
    ("truth", "pred", "pos_label"),
    [
        (["yes", "no"], ["no", "yes"], "yes"),
        ([True, False], [False, True], True),
        ([1.0, 0.0], [0, 1], 1),
        ([2, 1], [1, 2], 2),
    ],
)
def test_label_types_and_pos_label(
    truth: list[object], pred: list[object], pos_label: object
) -> None:
    n = 40
    df = pd.DataFrame(
        {
            "s": ["a", "b"] * (n // 2),
            "y": [truth[(i // 2) % 2] for i in range(n)],
            "p": [pred[(i // 3) % 2] for i in range(n)],
        }
    )
    as01 = df.assign(y=(df["y"] == truth[0]).astype(int), p=(df["p"] == truth[0]).astype(int))
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"], pos_label=pos_label)  # type: ignore[arg-type]
    expected = compute_fairness(as01, y_true="y", y_pred="p", sensitive=["s"])
    assert report.by_group == expected.by_group


def test_numeric_sensitive_values_are_labelled_as_text() -> None:
    df = _table().assign(age_band=lambda d: np.where(d["score"] > 0.5, 2, 1))
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["age_band"])
    assert [g.group for g in report.by_group] == [("1",), ("2",)]


def test_bootstrap_is_seeded_and_covers_the_estimate() -> None:
    df = _table(2000)
    kw = {"y_true": "y", "y_pred": "p", "sensitive": ["race"], "bootstrap": 400}
    a = compute_fairness(df, seed=7, **kw)  # type: ignore[arg-type]
    b = compute_fairness(df, seed=7, **kw)  # type: ignore[arg-type]
    c = compute_fairness(df, seed=8, **kw)  # type: ignore[arg-type]
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()
    d = a.disparity("false_positive_rate")
    ci = d.interval("difference")
    assert ci is not None and ci.low is not None and ci.high is not None
    assert ci.low <= (d.difference or 0) <= ci.high
    assert ci.n_defined == 400 and ci.confidence == 0.95
    s = a.summary("demographic_parity_difference")
    assert s.ci is not None and s.ci.low is not None and s.ci.low < (s.value or 0)
    assert a.bootstrap is not None and a.bootstrap.n_boot == 400
    json.dumps(a.to_dict(), allow_nan=False)


def test_multinomial_bootstrap_matches_row_resampling() -> None:
    """Resampling counts is the stratified row bootstrap: compare with the naive one."""
    df = _table(3000, seed=3)
    report = compute_fairness(
        df, y_true="y", y_pred="p", sensitive=["race"], bootstrap=4000, seed=1
    )
    rng = np.random.default_rng(2)
    groups = [df[df["race"] == g].reset_index(drop=True) for g in ("a", "b", "c")]
    diffs = []
    for _ in range(1000):
        rates = []
        for g in groups:
            sample = g.iloc[rng.integers(0, len(g), len(g))]
            rates.append(sample["p"].mean())
        diffs.append(max(rates) - min(rates))
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    ci = report.disparity("selection_rate").interval("difference")
    assert ci is not None and ci.low is not None and ci.high is not None
    assert ci.low == pytest.approx(lo, abs=0.02)
    assert ci.high == pytest.approx(hi, abs=0.02)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_pred": "p", "score": "score", "threshold": 0.5}, "exactly one of"),
        ({}, "exactly one of"),
        ({"score": "score"}, "needs a finite decision threshold"),
        ({"y_pred": "p", "threshold": 0.5}, "threshold applies to a score"),
        ({"y_pred": "nope"}, "t.csv: no column 'nope'"),
        ({"y_pred": "race"}, "is both a label and sensitive"),
        ({"y_pred": "score"}, "column 'score' is not binary"),
        ({"y_pred": "p", "pos_label": "yes"}, "pos_label 'yes' cannot match column 'y'"),
        ({"y_pred": "p", "pos_label": 7}, "pos_label '7' is not one of the labels"),
        ({"y_pred": "p", "sensitive": []}, "one or more sensitive"),
        ({"y_pred": "p", "sensitive": "race"}, "as a list"),
        ({"y_pred": "p", "bootstrap": -1}, "bootstrap must be"),
        ({"y_pred": "p", "confidence": 1.0}, "confidence must be"),
        ({"score": "sex", "threshold": 0.5}, "column 'sex': CSV conversion error to double"),
    ],
)
def test_bad_input_is_an_input_error(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    csv, _ = _files(_table(50), tmp_path)
    args: dict[str, object] = {"y_true": "y", "sensitive": ["race"], **kwargs}
    with pytest.raises(InputError) as info:
        compute_fairness(csv, **args)  # type: ignore[arg-type]
    assert message in info.value.message
    assert info.value.exit_code == EXIT_USAGE
    assert "\n" not in info.value.message


def test_missing_file_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        compute_fairness(tmp_path / "nope.csv", y_true="y", y_pred="p", sensitive=["s"])
    df = pd.DataFrame({"s": ["a", "b"], "y": [1, None], "p": [1, 0]})
    with pytest.raises(InputError, match="column 'y' has missing labels"):
        compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"])
    df = pd.DataFrame({"s": ["a", "b"], "y": [1, 0], "score": [0.3, float("nan")]})
    with pytest.raises(InputError, match=r"score column 'score' has (missing|NaN) values"):
        compute_fairness(df, y_true="y", score="score", threshold=0.5, sensitive=["s"])
    bad = tmp_path / "bad.csv"
    bad.write_text("s,y,score\na,1,0.5\nb,0,high\n")
    with pytest.raises(InputError, match=r"bad\.csv: .*column 'score'"):
        compute_fairness(bad, y_true="y", score="score", threshold=0.5, sensitive=["s"])
    with pytest.raises(InputError, match="no rows"):
        compute_fairness(df.iloc[:0], y_true="y", score="score", threshold=0.5, sensitive=["s"])

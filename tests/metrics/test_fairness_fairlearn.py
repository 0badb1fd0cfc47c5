"""Ordinance's fairness metrics equal fairlearn's MetricFrame on random tables (hypothesis)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import equalized_odds_difference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordinance.metrics.fairness import AGGREGATIONS, FairnessReport, compute_fairness

from ._fairlearn_oracle import (
    TOL,
    assert_matches_fairlearn,
    close,
    expected_disparities,
    fairlearn_summaries,
    metric_frame,
)


@st.composite
def tables(draw: st.DrawFn, max_features: int = 2) -> pd.DataFrame:
    """Small tables with tiny groups and groups lacking positives, negatives or predictions."""
    n = draw(st.integers(1, 60))
    k = draw(st.integers(1, max_features))
    data: dict[str, list[object]] = {}
    for i in range(k):
        alphabet = draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=4, unique=True))
        data[f"s{i}"] = draw(st.lists(st.sampled_from(alphabet), min_size=n, max_size=n))
    # skewed label probabilities make all-positive / all-negative groups common
    p_true = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    p_pred = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    data["y"] = list((rng.random(n) < p_true).astype(int))
    data["p"] = list((rng.random(n) < p_pred).astype(int))
    return pd.DataFrame(data)


def _sensitive(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("s")]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables(), batch_rows=st.integers(1, 64))
def test_equal_to_metricframe(df: pd.DataFrame, batch_rows: int) -> None:
    """Per-group, overall and aggregated values equal fairlearn's, batched or not."""
    sens = _sensitive(df)
    report = compute_fairness(
        df, y_true="y", y_pred="p", sensitive=sens, batch_rows=batch_rows, undefined="skip"
    )
    mf = metric_frame(df["y"], df["p"], df[sens])
    assert_matches_fairlearn(report, mf)

    # skip: fairlearn's formulas over the groups where the metric is defined
    expected = expected_disparities(report, mf)
    for metric, d in report.disparities.items():
        for agg in AGGREGATIONS:
            ours = d.value(agg)  # type: ignore[arg-type]
            assert close(math.nan if ours is None else ours, expected[metric][agg]), (metric, agg)

    # ...which are fairlearn's own difference()/ratio() when every group's value is defined
    fairlearn_aggs = {
        "difference": mf.difference(),
        "ratio": mf.ratio(),
        "difference_to_overall": mf.difference(method="to_overall"),
        "ratio_to_overall": mf.ratio(method="to_overall"),
    }
    for metric, d in report.disparities.items():
        if not _all_defined(report, metric):
            continue
        for agg in AGGREGATIONS:
            ours = d.value(agg)  # type: ignore[arg-type]
            theirs = float(fairlearn_aggs[agg][metric])
            assert close(math.nan if ours is None else ours, theirs), (metric, agg, ours, theirs)

    # strict (the default): fairlearn's own difference()/ratio() always, undefined or not
    strict = compute_fairness(df, y_true="y", y_pred="p", sensitive=sens, batch_rows=batch_rows)
    assert strict.by_group == report.by_group
    for metric, d in strict.disparities.items():
        assert d.undefined_groups == report.disparity(metric).undefined_groups
        for agg in AGGREGATIONS:
            ours = d.value(agg)  # type: ignore[arg-type]
            theirs = float(fairlearn_aggs[agg][metric])
            assert close(math.nan if ours is None else ours, theirs), (metric, agg, ours, theirs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables())
def test_summaries_equal_fairlearn(df: pd.DataFrame) -> None:
    sens = _sensitive(df)
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=sens, undefined="skip")
    theirs = fairlearn_summaries(df["y"], df["p"], df[sens])
    parts = {
        "demographic_parity": ("selection_rate",),
        "equalized_odds": ("true_positive_rate", "false_positive_rate"),
    }
    for name, value in theirs.items():
        base, _, kind = name.rpartition("_")
        ours = report.summary(name).value
        components = [report.disparity(m).value(kind) for m in parts[base]]  # type: ignore[arg-type]
        if not all(_all_defined(report, m) for m in parts[base]):
            continue
        if any(c is None for c in components):
            assert ours is None  # Ordinance fails closed where a part is undefined
            continue
        assert close(math.nan if ours is None else ours, float(value)), (name, ours, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables())
def test_strict_summaries_equal_fairlearn(df: pd.DataFrame) -> None:
    """Strict mode: every summary equals fairlearn's, undefined group rates included."""
    sens = _sensitive(df)
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=sens)
    theirs = fairlearn_summaries(df["y"], df["p"], df[sens])
    for name, value in theirs.items():
        ours = report.summary(name).value
        if name.startswith("equalized_odds") and ours is None:
            # a part is 0/0 (no group has a positive rate): fairlearn's max()/min() of a
            # pair holding NaN depends on the order; Ordinance says undefined
            assert report.disparity("true_positive_rate").ratio is None or (
                report.disparity("false_positive_rate").ratio is None
            )
            continue
        assert close(math.nan if ours is None else ours, float(value)), (name, ours, value)


def _all_defined(report: FairnessReport, metric: str) -> bool:
    return report.overall.metrics[metric] is not None and all(
        g.metrics[metric] is not None for g in report.by_group
    )


def test_intersectional_groups_are_tuples_and_skip_empty_combinations() -> None:
    df = pd.DataFrame(
        {
            "race": ["a", "a", "b", "b", "a", "c"],
            "sex": ["x", "y", "x", "x", "y", "y"],
            "y": [0, 1, 0, 1, 1, 0],
            "p": [0, 1, 1, 1, 0, 0],
        }
    )
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["race", "sex"])
    assert [g.group for g in report.by_group] == [("a", "x"), ("a", "y"), ("b", "x"), ("c", "y")]
    assert_matches_fairlearn(report, metric_frame(df["y"], df["p"], df[["race", "sex"]]))


def test_undefined_rates_are_none_where_fairlearn_says_zero() -> None:
    # group a: only negatives, never predicted positive; group b: only positives
    df = pd.DataFrame(
        {"s": ["a"] * 3 + ["b"] * 3, "y": [0, 0, 0, 1, 1, 1], "p": [0, 0, 0, 1, 0, 1]}
    )
    report = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"], undefined="skip")
    a, b = report.by_group
    assert a.metrics["true_positive_rate"] is None
    assert a.metrics["false_negative_rate"] is None
    assert a.metrics["precision_score"] is None
    assert b.metrics["false_positive_rate"] is None
    assert b.metrics["true_negative_rate"] is None
    mf = metric_frame(df["y"], df["p"], df[["s"]])
    assert_matches_fairlearn(report, mf)
    # TPR is defined for b only (2/3): there is no second group to compare it with, so the
    # disparity is nil -- fairlearn compares b's 2/3 with a's conventional 0 instead
    tpr = report.disparity("true_positive_rate")
    assert (tpr.difference, tpr.ratio) == (0.0, 1.0)
    assert mf.difference()["true_positive_rate"] == pytest.approx(2 / 3, abs=TOL)
    assert mf.ratio()["true_positive_rate"] == 0.0
    # each part of equalized odds is taken over the groups where its rate is defined
    assert report.summary("equalized_odds_difference").value == 0.0
    assert tpr.undefined_groups == (("a",),)
    assert report.disparity("false_positive_rate").undefined_groups == (("b",),)
    json.dumps(report.to_dict(), allow_nan=False)
    # strict (the default) counts the undefined rates as 0, exactly as fairlearn does
    strict = compute_fairness(df, y_true="y", y_pred="p", sensitive=["s"])
    assert strict.by_group == report.by_group
    tpr = strict.disparity("true_positive_rate")
    assert tpr.difference == pytest.approx(mf.difference()["true_positive_rate"], abs=TOL)
    assert tpr.ratio == mf.ratio()["true_positive_rate"] == 0.0
    assert tpr.undefined_groups == (("a",),)
    eod = equalized_odds_difference(df["y"], df["p"], sensitive_features=df["s"])
    assert strict.summary("equalized_odds_difference").value == pytest.approx(eod, abs=TOL)
    assert strict.to_dict()["undefined_rates"] == "strict"

"""ProPublica's COMPAS figures, reproduced from ../shared/data/compas/reference.json.

The scenarios are defined in ``REFERENCE.md`` and ``derive_reference.py`` next to the data:
A is the population behind the published FPR/FNR (every row; Medium/High = positive), A2 the
same rows with only High positive, B the notebook's cell-4 filters, C the violent file with
the same filters on ``v_score_text``. Counts must be equal; rates agree to 1e-12.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ordinance.metrics.fairness import FairnessReport, GroupMetrics, compute_fairness

TOL = 1e-12
AA, CAUC = "African-American", "Caucasian"
GENERAL = "compas-scores-two-years.csv"
VIOLENT = "compas-scores-two-years-violent.csv"
# reference key -> Ordinance metric name
RATES = {
    "selection_rate": "selection_rate",
    "fpr": "false_positive_rate",
    "fnr": "false_negative_rate",
    "tpr": "true_positive_rate",
    "ppv": "precision_score",
}


@pytest.fixture(scope="module")
def compas(shared: Path) -> Path:
    return shared / "data" / "compas"


@pytest.fixture(scope="module")
def reference(compas: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((compas / "reference.json").read_text())
    return data["scenarios"]


def _read(path: Path) -> pd.DataFrame:
    # 'N/A' is a score_text value the filters test for, not a missing value
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _regression_filter(df: pd.DataFrame, score_col: str) -> pd.DataFrame:
    days = df["days_b_screening_arrest"]
    keep = (
        days.notna()
        & (days >= -30)
        & (days <= 30)
        & (df["is_recid"] != -1)
        & (df["c_charge_degree"] != "O")
        & (df[score_col] != "N/A")
    )
    return df[keep].reset_index(drop=True)


def _with_prediction(df: pd.DataFrame, score_col: str, positive: tuple[str, ...]) -> pd.DataFrame:
    return df.assign(y_pred=df[score_col].isin(positive).astype(int))


def _assert_group(ours: GroupMetrics, expected: dict[str, Any]) -> None:
    c = ours.confusion
    assert (ours.count, c.tn, c.fp, c.fn, c.tp) == (
        expected["n"],
        expected["tn"],
        expected["fp"],
        expected["fn"],
        expected["tp"],
    )
    assert (c.tp + c.fn) / c.count == pytest.approx(expected["base_rate"], abs=TOL)
    for key, metric in RATES.items():
        value = ours.metrics[metric]
        assert value is not None
        assert value == pytest.approx(expected[key], abs=TOL), (ours.group, metric)


def _assert_scenario(report: FairnessReport, scenario: dict[str, Any]) -> None:
    per_group = scenario["per_group"]
    _assert_group(report.overall, per_group["All"])
    for race in (AA, CAUC):
        _assert_group(report.group(race), per_group[race])
    if "n_rows" in scenario:
        assert report.n_rows == scenario["n_rows"]


def _assert_disparities(report: FairnessReport, expected: dict[str, Any]) -> None:
    """AA vs Caucasian only: the reference restricts the comparison to these two groups."""
    assert [g.group for g in report.by_group] == [(AA,), (CAUC,)]
    for name in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    ):
        assert report.summary(name).value == pytest.approx(expected[name], abs=TOL), name
    fpr = report.disparity("false_positive_rate")
    assert fpr.difference == pytest.approx(expected["fpr_difference"], abs=TOL)
    assert fpr.ratio is not None
    assert 1 / fpr.ratio == pytest.approx(expected["fpr_ratio"], abs=TOL)
    assert report.disparity("false_negative_rate").difference == pytest.approx(
        expected["fnr_difference"], abs=TOL
    )


def test_scenario_a_published_truth_table_from_csv(compas: Path, reference: dict[str, Any]) -> None:
    """Straight from the CSV: decile_score >= 5 is Medium/High (REFERENCE.md checks every row)."""
    scenario = reference["A_published_truth_table"]
    report = compute_fairness(
        compas / GENERAL,
        y_true="two_year_recid",
        score="decile_score",
        threshold=5,
        sensitive=["race"],
    )
    _assert_scenario(report, scenario)
    for race, published in scenario["published"].items():
        ours = report.overall if race == "All" else report.group(race)
        fpr, fnr = ours.metrics["false_positive_rate"], ours.metrics["false_negative_rate"]
        assert fpr is not None and fnr is not None
        assert round(100 * fpr, 2) == published["fpr_pct"]
        assert round(100 * fnr, 2) == published["fnr_pct"]


def test_scenario_a_disparities_aa_vs_caucasian(compas: Path, reference: dict[str, Any]) -> None:
    scenario = reference["A_published_truth_table"]
    df = _with_prediction(_read(compas / GENERAL), "score_text", ("Medium", "High"))
    report = compute_fairness(
        df[df["race"].isin([AA, CAUC])],
        y_true="two_year_recid",
        y_pred="y_pred",
        sensitive=["race"],
    )
    _assert_disparities(report, scenario["disparities_AA_vs_Caucasian"])


def test_scenario_a2_high_only(compas: Path, reference: dict[str, Any]) -> None:
    scenario = reference["A2_published_truth_table_high_only"]
    df = _with_prediction(_read(compas / GENERAL), "score_text", ("High",))
    report = compute_fairness(df, y_true="two_year_recid", y_pred="y_pred", sensitive=["race"])
    _assert_scenario(report, scenario)
    for race, published in scenario["published"].items():
        c = report.group(race).confusion
        assert (c.tn, c.fp, c.fn, c.tp) == tuple(published[k] for k in ("tn", "fp", "fn", "tp"))


@pytest.mark.parametrize(
    ("key", "file", "score_col", "counts_key"),
    [
        ("B_notebook_regression_filters", GENERAL, "score_text", "score_text_counts"),
        ("C_violent_regression_filters", VIOLENT, "v_score_text", "v_score_text_counts"),
    ],
)
def test_filtered_scenarios(
    compas: Path, reference: dict[str, Any], key: str, file: str, score_col: str, counts_key: str
) -> None:
    scenario = reference[key]
    df = _regression_filter(_read(compas / file), score_col)
    # the filtered frame is the one ProPublica published
    assert len(df) == scenario["published_frame"]["rows_filtered"]
    assert df[score_col].value_counts().to_dict() == scenario[counts_key]
    df = _with_prediction(df, score_col, ("Medium", "High"))
    report = compute_fairness(df, y_true="two_year_recid", y_pred="y_pred", sensitive=["race"])
    _assert_scenario(report, scenario)
    assert {g.group[0]: g.count for g in report.by_group} == scenario["race_counts"]
    two = df[df["race"].isin([AA, CAUC])]
    pair = compute_fairness(two, y_true="two_year_recid", y_pred="y_pred", sensitive=["race"])
    _assert_disparities(pair, scenario["disparities_AA_vs_Caucasian"])
    # small groups (Native American: 11 and 7 people) are flagged, not dropped
    assert ("Native American",) in [g.group for g in report.small_groups]

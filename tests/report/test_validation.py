"""Report statistics against scikit-learn, and the bootstrap is seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from ordinance.errors import InputError
from ordinance.report.validation import (
    auc,
    bootstrap_interval,
    calibration_bins,
    ks_statistic,
    outcomes_analysis,
)


def _data(n: int = 500, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    score = np.clip(0.3 + 0.25 * (y - 0.3) + rng.normal(0, 0.2, n), 0, 1).round(2)  # ties
    return y, score


def test_auc_matches_sklearn_with_ties() -> None:
    y, s = _data()
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc(np.ones(3, bool), np.array([0.1, 0.2, 0.3])) is None


def test_ks_matches_the_definition() -> None:
    y, s = _data()
    grid = np.unique(s)
    expected = max(abs((s[y] <= t).mean() - (s[~y] <= t).mean()) for t in grid)
    assert ks_statistic(y, s) == pytest.approx(expected)


def test_calibration_and_brier() -> None:
    y, s = _data()
    bins = calibration_bins(y, s)
    assert sum(b["rows"] for b in bins) == y.size and len(bins) == 10
    assert [b["mean_score"] for b in bins] == sorted(b["mean_score"] for b in bins)
    table = pd.DataFrame({"label": y.astype(int), "p": s})
    out = outcomes_analysis(table, {"y_true": "label", "score": "p", "threshold": 0.4}, rounds=50)
    assert out["brier"]["value"] == pytest.approx(brier_score_loss(y, s))
    assert out["gini"]["value"] == pytest.approx(2 * roc_auc_score(y, s) - 1)
    lo, hi = out["auc"]["ci"]
    assert lo < out["auc"]["value"] < hi
    at = out["at_threshold"]
    assert at["tp"] + at["fp"] + at["fn"] + at["tn"] == y.size
    assert at["tp"] == int((y & (s >= 0.4)).sum())
    assert [r["threshold"] for r in out["sensitivity"]] == [0.3, 0.35, 0.4, 0.45, 0.5]
    assert out["positive_class"] == 1 and out["threshold"] == 0.4


def test_bootstrap_is_seeded() -> None:
    y, s = _data()
    a = bootstrap_interval(auc, y, s, rounds=60, seed=1)
    assert a == bootstrap_interval(auc, y, s, rounds=60, seed=1)
    assert a != bootstrap_interval(auc, y, s, rounds=60, seed=2)


def test_missing_columns_are_input_errors() -> None:
    table = pd.DataFrame({"label": [0, 1], "p": [0.1, 0.9]})
    with pytest.raises(InputError, match="'score'"):
        outcomes_analysis(table, {"y_true": "label"})
    with pytest.raises(InputError, match="no column 'q'"):
        outcomes_analysis(table, {"y_true": "label", "score": "q"})


def test_shared_resamples_give_the_same_intervals_as_one_by_one() -> None:
    from ordinance.report.validation import bootstrap_intervals

    y, s = _data()
    both = bootstrap_intervals({"auc": auc, "ks": ks_statistic}, y, s, rounds=40, seed=5)
    assert both["auc"] == list(bootstrap_interval(auc, y, s, rounds=40, seed=5) or [])
    assert both["ks"] == list(bootstrap_interval(ks_statistic, y, s, rounds=40, seed=5) or [])

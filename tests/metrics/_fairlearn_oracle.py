"""fairlearn as the oracle: the same metrics computed by ``MetricFrame`` on the same rows."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, precision_score

from ordinance.metrics.fairness import FairnessReport

FAIRLEARN_METRICS = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "true_negative_rate": true_negative_rate,
    "false_negative_rate": false_negative_rate,
    "accuracy_score": accuracy_score,
    "precision_score": precision_score,
    "count": count,
}
TOL = 1e-12


def metric_frame(y_true: Any, y_pred: Any, sensitive: pd.DataFrame) -> MetricFrame:
    """MetricFrame over all Ordinance metrics; sklearn's zero-division warning is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return MetricFrame(
            metrics=FAIRLEARN_METRICS,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=sensitive,
        )


def fairlearn_summaries(y_true: Any, y_pred: Any, sensitive: pd.DataFrame) -> dict[str, float]:
    kw = {"sensitive_features": sensitive}
    return {
        "demographic_parity_difference": demographic_parity_difference(y_true, y_pred, **kw),
        "demographic_parity_ratio": demographic_parity_ratio(y_true, y_pred, **kw),
        "equalized_odds_difference": equalized_odds_difference(y_true, y_pred, **kw),
        "equalized_odds_ratio": equalized_odds_ratio(y_true, y_pred, **kw),
    }


def _key(group: tuple[str | None, ...], n: int) -> Any:
    """The MetricFrame index of a group; missing values were filled with "<missing>"."""
    labels = tuple("<missing>" if v is None else v for v in group)
    return labels[0] if n == 1 else labels


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOL


def assert_matches_fairlearn(report: FairnessReport, mf: MetricFrame) -> None:
    """Per-group and overall values equal MetricFrame's to 1e-12.

    Defined values must be equal; where Ordinance says ``None`` (undefined), fairlearn and
    scikit-learn return 0 (the zero-division convention), so that is what we check.
    Combinations of sensitive values that never occur are NaN rows in ``by_group``;
    Ordinance does not report them.
    """
    k = len(report.sensitive_features)
    by_group = mf.by_group.dropna(how="all")
    assert len(by_group) == len(report.by_group)
    for g in report.by_group:
        row = by_group.loc[_key(g.group, k)]
        assert int(row["count"]) == g.count
        for m, ours in g.metrics.items():
            theirs = float(row[m])
            if ours is None:
                assert theirs == 0.0, (g.group, m, theirs)
            else:
                assert abs(ours - theirs) <= TOL, (g.group, m, ours, theirs)
    assert int(mf.overall["count"]) == report.overall.count == report.n_rows
    for m, ours in report.overall.metrics.items():
        theirs = float(mf.overall[m])
        assert theirs == 0.0 if ours is None else abs(ours - theirs) <= TOL, (m, ours, theirs)


def fold(x: float) -> float:
    return 1 / x if x > 1 else x


def expected_disparities(report: FairnessReport, mf: MetricFrame) -> dict[str, dict[str, float]]:
    """fairlearn's aggregation formulas applied to its by_group frame, undefined values masked.

    When every group's metric is defined this is exactly ``mf.difference()``/``mf.ratio()``
    (checked separately); masking is Ordinance's documented departure for undefined rates.
    """
    k = len(report.sensitive_features)
    out: dict[str, dict[str, float]] = {}
    for m in report.disparities:
        vals = [
            float(mf.by_group.loc[_key(g.group, k), m])
            for g in report.by_group
            if g.metrics[m] is not None
        ]
        overall = math.nan if report.overall.metrics[m] is None else float(mf.overall[m])
        if not vals:
            out[m] = dict.fromkeys(
                ("difference", "ratio", "difference_to_overall", "ratio_to_overall"), math.nan
            )
            continue
        s = pd.Series(vals, dtype=float)
        # pandas divides without numpy's warnings: 0/0 is NaN, x/0 is inf, as in fairlearn
        ratio = pd.Series([s.min()]) / pd.Series([s.max()])
        out[m] = {
            "difference": float((s - s.min()).abs().max()),
            "ratio": float(ratio.iloc[0]),
            "difference_to_overall": float((s - overall).abs().max()),
            "ratio_to_overall": float((s / overall).transform(fold).min()),
        }
    return out

"""Report-level validation statistics from an evaluation table: discrimination, calibration,
the decision threshold, threshold sensitivity and seeded bootstrap confidence intervals.

What a model validator expects to read in an outcomes analysis (SR 11-7 section V), computed
from the ``predictions`` evidence (the label column, a score column, the threshold and the
positive class recorded as evidence attributes):

* **Discrimination**: ROC AUC (Mann-Whitney, ties counted half), Gini = 2·AUC − 1, and the
  Kolmogorov-Smirnov statistic (largest gap between the score distributions of the two
  classes).
* **Calibration**: mean predicted probability against the observed rate in ten equal-count
  score bins, the Brier score and the expected calibration error.
* **Decision threshold**: the confusion matrix at the recorded threshold and the rates it
  implies; how they move when the threshold moves (sensitivity).
* **Uncertainty**: percentile bootstrap intervals, resampling rows with a fixed seed, so the
  same table always gives the same intervals.

Plain NumPy; ``tests/report/test_validation.py`` checks every statistic against
scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ordinance.errors import InputError

__all__ = [
    "BOOTSTRAP_ROUNDS",
    "BOOTSTRAP_SEED",
    "auc",
    "bootstrap_interval",
    "bootstrap_intervals",
    "brier",
    "calibration_bins",
    "ks_statistic",
    "outcomes_analysis",
]

BOOTSTRAP_SEED = 20110404  # SR 11-7's date: any fixed number would do
BOOTSTRAP_ROUNDS = 400
CONFIDENCE = 0.95
Floats = NDArray[np.float64]
Labels = NDArray[np.bool_]


def auc(y: Labels, score: Floats) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney U) formula; ``None`` with one class only."""
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(score.size, dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def ks_statistic(y: Labels, score: Floats) -> float | None:
    """Largest distance between the empirical score distributions of positives and negatives."""
    pos, neg = np.sort(score[y]), np.sort(score[~y])
    if pos.size == 0 or neg.size == 0:
        return None
    grid = np.unique(score)
    cdf_pos = np.searchsorted(pos, grid, side="right") / pos.size
    cdf_neg = np.searchsorted(neg, grid, side="right") / neg.size
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


def brier(y: Labels, score: Floats) -> float:
    return float(np.mean((score - y.astype(np.float64)) ** 2))


def calibration_bins(y: Labels, score: Floats, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-count score bins: rows, mean score, observed positive rate (lowest scores first)."""
    order = np.argsort(score, kind="mergesort")
    out = []
    for chunk in np.array_split(order, min(bins, max(score.size, 1))):
        if chunk.size == 0:
            continue
        s, t = score[chunk], y[chunk]
        out.append(
            {
                "rows": int(chunk.size),
                "score_min": float(s.min()),
                "score_max": float(s.max()),
                "mean_score": float(s.mean()),
                "observed_rate": float(t.mean()),
            }
        )
    return out


def _ece(bins: list[dict[str, Any]], n: int) -> float:
    return float(sum(b["rows"] / n * abs(b["mean_score"] - b["observed_rate"]) for b in bins))


def _rates(y: Labels, pred: Labels) -> dict[str, Any]:
    tp = int((y & pred).sum())
    fp = int((~y & pred).sum())
    fn = int((y & ~pred).sum())
    tn = int((~y & ~pred).sum())

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "accuracy": ratio(tp + tn, y.size),
        "positive_rate": ratio(tp + fp, y.size),
        "true_positive_rate": ratio(tp, tp + fn),
        "false_positive_rate": ratio(fp, fp + tn),
        "precision": ratio(tp, tp + fp),
    }


def bootstrap_interval(
    stat: Callable[[Labels, Floats], float | None],
    y: Labels,
    score: Floats,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
    level: float = CONFIDENCE,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``stat`` (rows resampled with replacement, seeded);
    ``None`` when ``rounds`` is 0 or too few resamples give a defined value."""
    if rounds <= 0:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        idx = rng.integers(0, y.size, y.size)
        v = stat(y[idx], score[idx])
        if v is not None and math.isfinite(v):
            values.append(v)
    if len(values) < rounds // 2:
        return None
    lo, hi = np.quantile(np.asarray(values), [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_intervals(
    stats: Mapping[str, Callable[[Labels, Floats], float | None]],
    y: Labels,
    score: Floats,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
    level: float = CONFIDENCE,
) -> dict[str, list[float] | None]:
    """:func:`bootstrap_interval` of several statistics over the same resamples (one draw
    of row indices per round, shared): the same numbers as computing them one by one."""
    if rounds <= 0:
        return dict.fromkeys(stats)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {k: [] for k in stats}
    for _ in range(rounds):
        idx = rng.integers(0, y.size, y.size)
        yy, ss = y[idx], score[idx]
        for name, stat in stats.items():
            v = stat(yy, ss)
            if v is not None and math.isfinite(v):
                values[name].append(v)
    out: dict[str, list[float] | None] = {}
    for name, vs in values.items():
        if len(vs) < rounds // 2:
            out[name] = None
            continue
        lo, hi = np.quantile(np.asarray(vs), [(1 - level) / 2, 1 - (1 - level) / 2])
        out[name] = [float(lo), float(hi)]
    return out


@dataclass(frozen=True)
class _Columns:
    label: str
    score: str
    threshold: float
    pos_label: Any


def _columns(attributes: Mapping[str, Any]) -> _Columns:
    y_true, score = attributes.get("y_true"), attributes.get("score")
    if not isinstance(y_true, str) or not isinstance(score, str):
        raise InputError(
            "outcomes analysis needs 'y_true' and 'score' column names in the predictions' "
            "attributes"
        )
    threshold = attributes.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InputError(f"predictions attribute 'threshold' is not a number: {threshold!r}")
    return _Columns(y_true, score, float(threshold), attributes.get("pos_label", 1))


def outcomes_analysis(
    table: Any,
    attributes: Mapping[str, Any],
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
    sensitivity_step: float = 0.05,
) -> dict[str, Any]:
    """Discrimination, calibration and threshold statistics of one predictions table.

    ``table`` is a pandas DataFrame; ``attributes`` the evidence's attributes (``y_true``,
    ``score``, ``threshold``, ``pos_label``). Raises :class:`InputError` naming what is
    missing; never guesses a column.
    """
    cols = _columns(attributes)
    for c in (cols.label, cols.score):
        if c not in table.columns:
            raise InputError(f"predictions have no column {c!r}")
    raw_y = table[cols.label]
    score = table[cols.score].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(score)):
        raise InputError(f"column {cols.score!r} has missing or non-finite scores")
    y = (raw_y.astype(str) == str(cols.pos_label)).to_numpy(dtype=np.bool_)
    n = int(y.size)
    if n == 0:
        raise InputError("the predictions table is empty")

    a = auc(y, score)
    bins = calibration_bins(y, score)
    pred = score >= cols.threshold
    at = _rates(y, pred)

    def accuracy(yy: Labels, ss: Floats) -> float | None:
        return float(np.mean(yy == (ss >= cols.threshold)))

    ci = bootstrap_intervals(
        {"auc": auc, "ks": ks_statistic, "brier": brier, "accuracy": accuracy},
        y,
        score,
        rounds=rounds,
        seed=seed,
    )
    # Gini is 2·AUC − 1, a monotone map: its percentile interval is the AUC's, mapped
    gini_ci = None if ci["auc"] is None else [2 * ci["auc"][0] - 1, 2 * ci["auc"][1] - 1]

    sensitivity = []
    for delta in (
        -2 * sensitivity_step,
        -sensitivity_step,
        0.0,
        sensitivity_step,
        2 * sensitivity_step,
    ):
        t = round(cols.threshold + delta, 6)
        r = _rates(y, score >= t)
        sensitivity.append(
            {
                "threshold": t,
                "accuracy": r["accuracy"],
                "positive_rate": r["positive_rate"],
                "true_positive_rate": r["true_positive_rate"],
                "false_positive_rate": r["false_positive_rate"],
            }
        )
    return {
        "rows": n,
        "positives": int(y.sum()),
        "label": cols.label,
        "score": cols.score,
        "positive_class": cols.pos_label,
        "threshold": cols.threshold,
        "decision": f"{cols.score} ≥ {cols.threshold:g} predicts {cols.label} = {cols.pos_label}",
        "bootstrap": {"rounds": rounds, "seed": seed, "level": CONFIDENCE},
        "auc": {"value": a, "ci": ci["auc"]},
        "gini": {"value": None if a is None else 2 * a - 1, "ci": gini_ci},
        "ks": {"value": ks_statistic(y, score), "ci": ci["ks"]},
        "brier": {"value": brier(y, score), "ci": ci["brier"]},
        "ece": _ece(bins, n),
        "calibration": bins,
        "at_threshold": {**at, "accuracy_ci": ci["accuracy"]},
        "sensitivity": sensitivity,
    }

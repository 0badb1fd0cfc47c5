"""Analyses computed from a version's evidence files: outcomes (discrimination, calibration,
sensitivity, bootstrap intervals), disaggregated and intersectional fairness, and feature
importances from explainability artifacts.

A file that cannot be analysed yields an entry with an ``error`` saying why; nothing is made
up. Small groups are flagged and left out of the headline disparities.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ordinance.errors import NotFoundError, OrdinanceError
from ordinance.model import Evidence, ModelVersion

if TYPE_CHECKING:
    from ordinance.metrics.fairness import FairnessReport
    from ordinance.workspace import Workspace

__all__ = [
    "CARD_METRICS",
    "CHART_METRICS",
    "explainability_of",
    "fairness_analyses",
    "outcomes_of",
]

#: Per-group metrics a card shows (fairlearn names), in this order.
CARD_METRICS: tuple[str, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "accuracy_score",
    "precision_score",
)
#: Metrics drawn as per-group bar charts.
CHART_METRICS: tuple[str, ...] = ("selection_rate", "false_positive_rate")


def _declared_sensitive(item: Evidence) -> list[str]:
    declared = item.attributes.get("sensitive") or ()
    if isinstance(declared, str):
        declared = (declared,)
    return [str(c) for c in declared]


def _fairness_kwargs(item: Evidence) -> dict[str, Any]:
    attrs = item.attributes
    y_true = attrs.get("y_true")
    if not isinstance(y_true, str):
        raise NotFoundError(f"predictions {item.name!r} have no 'y_true' attribute")
    y_pred = attrs.get("y_pred")
    return {
        "y_true": y_true,
        "y_pred": y_pred if isinstance(y_pred, str) else None,
        "score": None if isinstance(y_pred, str) else attrs.get("score"),
        "threshold": None if isinstance(y_pred, str) else attrs.get("threshold"),
        "pos_label": attrs.get("pos_label", 1),
    }


def _grouping(report: FairnessReport, features: Sequence[str]) -> dict[str, Any]:

    label = " × ".join(features)
    groups: list[dict[str, Any]] = [
        {
            "group": list(g.group),
            "label": g.label,
            "count": g.count,
            "small": g.small,
            "metrics": {m: g.metrics.get(m) for m in CARD_METRICS},
            "intervals": _rate_intervals(g),
        }
        for g in sorted(report.by_group, key=lambda g: g.label)
    ]
    # Headline disparities compare groups large enough to estimate a rate; small groups are
    # listed and excluded (a group of 9 with rate 0 is noise, not a ratio of 0.0000).
    large = [g for g in groups if not g["small"]]
    disparities = []
    for m in CARD_METRICS:
        if m not in report.disparities:
            continue
        defined = [(g["metrics"][m], g["label"]) for g in large if g["metrics"].get(m) is not None]
        if len(defined) < 2:
            disparities.append(
                {
                    "metric": m,
                    "difference": None,
                    "ratio": None,
                    "max_group": None,
                    "min_group": None,
                }
            )
            continue
        hi_v, hi_g = max(defined)
        lo_v, lo_g = min(defined)
        disparities.append(
            {
                "metric": m,
                "difference": hi_v - lo_v,
                "ratio": (lo_v / hi_v) if hi_v else None,
                "max_group": hi_g,
                "min_group": lo_g,
            }
        )
    charts = [
        {
            "title": f"{m.replace('_', ' ')} by {label}",
            "description": (
                f"Bar chart of {m} for each group of {label}, from {report.n_rows} rows; "
                "groups where the rate is undefined are marked undefined."
            ),
            "bars": [[g["label"], g["metrics"][m]] for g in groups],
            "intervals": [g["intervals"].get(m) for g in groups],
            "reference": report.overall.metrics.get(m),
            "reference_label": "overall",
            "axis": m.replace("_", " "),
            "flags": ["small" if g["small"] else "" for g in groups],
        }
        # an intersectional grouping has many groups: one chart, the table holds the rest
        for m in (CHART_METRICS[:1] if len(features) > 1 else CHART_METRICS)
    ]
    return {
        "features": list(features),
        "label": label,
        "intersectional": len(features) > 1,
        "overall": {m: report.overall.metrics.get(m) for m in CARD_METRICS},
        "groups": groups,
        "small_groups": [g["label"] for g in groups if g["small"]],
        "disparities": disparities,
        "charts": charts,
    }


def _wilson(k: int, n: int, z: float = 1.959964) -> list[float] | None:
    """Wilson score interval of a proportion ``k/n`` (95%)."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _rate_intervals(g: Any) -> dict[str, list[float] | None]:
    """95% intervals of the group's rates from its confusion counts (when it has them)."""
    c = getattr(g, "confusion", None)
    if c is None:
        return {}
    tp, fp, fn, tn = (int(getattr(c, k, 0)) for k in ("tp", "fp", "fn", "tn"))
    return {
        "selection_rate": _wilson(tp + fp, tp + fp + fn + tn),
        "true_positive_rate": _wilson(tp, tp + fn),
        "false_positive_rate": _wilson(fp, fp + tn),
        "false_negative_rate": _wilson(fn, tp + fn),
        "accuracy_score": _wilson(tp + tn, tp + fp + fn + tn),
        "precision_score": _wilson(tp, tp + fp),
    }


def outcomes_of(
    ws: Workspace, v: ModelVersion, *, rounds: int | None = None
) -> list[dict[str, Any]]:
    """Outcomes analysis (AUC/Gini, KS, calibration, threshold, bootstrap intervals) of each
    ``predictions`` evidence file that records a score column; an error entry says why not."""
    from ordinance.report.validation import outcomes_analysis

    out: list[dict[str, Any]] = []
    for item in sorted(v.evidence_of("predictions"), key=lambda e: (e.name, e.sha256)):
        entry: dict[str, Any] = {
            "evidence": {"name": item.name, "sha256": item.sha256},
            "stats": None,
            "charts": [],
            "error": None,
        }
        try:
            from ordinance.metrics._table import read_table

            cols = [str(item.attributes.get(k)) for k in ("y_true", "score")]
            if not all(isinstance(item.attributes.get(k), str) for k in ("y_true", "score")):
                raise NotFoundError(
                    f"predictions {item.name!r} record no 'y_true' and 'score' columns"
                )
            table = read_table(ws.evidence.open_path(item.sha256), columns=cols).to_pandas()
            stats = (
                outcomes_analysis(table, item.attributes)
                if rounds is None
                else outcomes_analysis(table, item.attributes, rounds=rounds)
            )
            entry["stats"] = stats
            entry["charts"] = [
                {
                    "kind": "calibration",
                    "title": "Calibration: observed default rate against mean score",
                    "description": (
                        f"Ten equal-count bins of {stats['rows']} rows from {item.name}; the "
                        "diagonal is perfect calibration, the dashed line the threshold "
                        f"{stats['threshold']:g}."
                    ),
                    "points": [[b["mean_score"], b["observed_rate"]] for b in stats["calibration"]],
                    "threshold": stats["threshold"],
                    "x_label": f"mean {stats['score']}",
                    "y_label": f"observed rate of {stats['label']} = {stats['positive_class']}",
                }
            ]
        except (OrdinanceError, OSError, ValueError, KeyError) as exc:
            entry["error"] = getattr(exc, "message", None) or str(exc)
        out.append(entry)
    return out


def fairness_analyses(
    ws: Workspace, v: ModelVersion, *, min_group_size: int = 30
) -> list[dict[str, Any]]:
    """Disaggregated and intersectional metrics from each ``predictions`` evidence file.

    One grouping per declared sensitive column, plus one intersectional grouping of all of
    them when there are several. A file that cannot be analysed yields an ``error`` entry
    saying why; nothing is made up.
    """
    from ordinance.metrics.fairness import compute_fairness

    out: list[dict[str, Any]] = []
    for item in sorted(v.evidence_of("predictions"), key=lambda e: (e.name, e.sha256)):
        sensitive = _declared_sensitive(item)
        entry: dict[str, Any] = {
            "evidence": {"name": item.name, "sha256": item.sha256},
            "sensitive": sensitive,
            "min_group_size": min_group_size,
            "n_rows": None,
            "prediction": None,
            "groupings": [],
            "error": None,
        }
        try:
            if not sensitive:
                raise NotFoundError(f"predictions {item.name!r} declare no sensitive columns")
            kwargs = _fairness_kwargs(item)
            from ordinance.metrics._sql import declared_sql
            from ordinance.metrics._table import read_table

            sql = declared_sql(item.attributes, f"predictions {item.name!r}")
            table = sql if sql is not None else read_table(ws.evidence.open_path(item.sha256))
            groupings: list[tuple[str, ...]] = [(c,) for c in sensitive]
            if len(sensitive) > 1:
                groupings.append(tuple(sensitive))
            for features in groupings:
                report = compute_fairness(
                    table, sensitive=list(features), min_group_size=min_group_size, **kwargs
                )
                entry["n_rows"] = report.n_rows
                entry["prediction"] = {k: report.prediction[k] for k in sorted(report.prediction)}
                entry["groupings"].append(_grouping(report, features))
        except OrdinanceError as exc:
            entry["error"] = exc.message
        out.append(entry)
    return out


# --------------------------------------------------------------------------- explainability


def _finite(value: Any) -> float | None:
    """A finite number, or None (stored evidence older than attach-time checks may hold NaN)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def explainability_of(ws: Workspace, v: ModelVersion, *, top: int = 15) -> list[dict[str, Any]]:
    """Feature importances from each ``explainability`` evidence file (JSON artifacts).

    The chart is redrawn from the numbers; a stored SVG is never inlined.
    """
    out: list[dict[str, Any]] = []
    for item in sorted(v.evidence_of("explainability"), key=lambda e: (e.name, e.sha256)):
        entry: dict[str, Any] = {
            "evidence": {"name": item.name, "sha256": item.sha256},
            "kind": None,
            "method": None,
            "data": None,
            "features": [],
            "chart": None,
            "error": None,
        }
        try:
            raw = json.loads(ws.evidence.open_path(item.sha256).read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or not isinstance(raw.get("features"), list):
                raise ValueError("not an Ordinance explainability artifact (no 'features' list)")
            feats: list[dict[str, Any]] = []
            for f in raw["features"]:
                mean, std = _finite(f.get("importance_mean")), _finite(f.get("importance_std"))
                feats.append(
                    {
                        "name": str(f.get("name")),
                        "importance_mean": mean,
                        "importance_std": std,
                    }
                )
            feats.sort(key=lambda f: (-(f["importance_mean"] or 0.0), f["name"]))
            method: dict[str, Any] = raw["method"] if isinstance(raw.get("method"), dict) else {}
            data: dict[str, Any] = raw["data"] if isinstance(raw.get("data"), dict) else {}
            entry["kind"] = str(raw.get("kind") or "feature importance")
            entry["method"] = {
                k: method[k] for k in sorted(method) if not isinstance(method[k], dict | list)
            }
            entry["data"] = {
                k: data[k] for k in sorted(data) if not isinstance(data[k], dict | list)
            }
            entry["features"] = feats
            shown = feats[:top]
            if shown:
                entry["chart"] = {
                    "title": f"Feature importance ({entry['kind'].replace('_', ' ')})",
                    "description": (
                        f"Mean importance of the {len(shown)} most important of "
                        f"{len(feats)} features, from evidence {item.name}."
                    ),
                    "bars": [[f["name"], f["importance_mean"]] for f in shown],
                }
        except (OrdinanceError, OSError, ValueError) as exc:
            entry["error"] = getattr(exc, "message", None) or str(exc)
        out.append(entry)
    return out

"""Analyses computed from a version's evidence files: outcomes (discrimination, calibration,
sensitivity, bootstrap intervals), disaggregated and intersectional fairness, and feature
importances from explainability artifacts.

A file that cannot be analysed yields an entry with an ``error`` saying why; nothing is made
up. Small groups are flagged and left out of the headline disparities.

Outcomes and fairness are computed once per evidence file: the result is kept in the
workspace (``cache/analyses/KEY.json``) under a key that digests the file's SHA-256, name and
declared attributes, the parameters and the code (and library versions) that computed it,
so rendering a card again reads the recorded numbers instead of importing pandas and
recomputing. A prediction table in a database (``sql:``) is not content-addressed and is
always recomputed; an entry that failed is never kept.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
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
    return [
        _recorded(ws, "outcomes", item, {"rounds": rounds}, lambda it: _outcomes(ws, it, rounds))
        for item in sorted(v.evidence_of("predictions"), key=lambda e: (e.name, e.sha256))
    ]


def _outcomes(ws: Workspace, item: Evidence, rounds: int | None) -> dict[str, Any]:
    from ordinance.report.validation import outcomes_analysis

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
            raise NotFoundError(f"predictions {item.name!r} record no 'y_true' and 'score' columns")
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
    return entry


def fairness_analyses(
    ws: Workspace, v: ModelVersion, *, min_group_size: int = 30
) -> list[dict[str, Any]]:
    """Disaggregated and intersectional metrics from each ``predictions`` evidence file.

    One grouping per declared sensitive column, plus one intersectional grouping of all of
    them when there are several. A file that cannot be analysed yields an ``error`` entry
    saying why; nothing is made up.
    """
    return [
        _recorded(
            ws,
            "fairness",
            item,
            {"min_group_size": min_group_size},
            lambda it: _fairness(ws, it, min_group_size),
        )
        for item in sorted(v.evidence_of("predictions"), key=lambda e: (e.name, e.sha256))
    ]


def _fairness(ws: Workspace, item: Evidence, min_group_size: int) -> dict[str, Any]:
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
        from ordinance.metrics.fairness import compute_fairness

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
    return entry


# --------------------------------------------------------------------------- recorded analyses

#: Bump when an analysis entry changes shape (the key digests the computing code as well).
_CACHE_FORMAT = 1
_LIBRARIES = ("numpy", "pandas", "pyarrow")


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """SHA-256 over what computes the analyses: Ordinance's version, the source of
    ``ordinance.metrics`` and of this module and :mod:`~ordinance.report.validation`, and the
    versions of the numeric libraries (read from metadata, not imported)."""
    from importlib import metadata

    from ordinance import __version__

    package = Path(__file__).resolve().parent.parent
    sources = sorted((package / "metrics").glob("*.py"))
    sources += [package / "report" / "analyses.py", package / "report" / "validation.py"]
    h = hashlib.sha256(f"{_CACHE_FORMAT}\0{__version__}\0".encode())
    for name in _LIBRARIES:
        try:
            h.update(f"{name} {metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name} -\0".encode())
    for source in sources:
        h.update(source.name.encode() + b"\0" + source.read_bytes())
    return h.hexdigest()


def _recorded(
    ws: Workspace,
    kind: str,
    item: Evidence,
    params: Mapping[str, Any],
    compute: Callable[[Evidence], dict[str, Any]],
) -> dict[str, Any]:
    """The ``kind`` analysis of evidence ``item``: read back when this file, declaration,
    parameters and code were analysed before, else computed and kept."""
    if item.attributes.get("sql") is not None:  # rows in a database: not content-addressed
        return compute(item)
    from ordinance._canonical import canonical_json

    try:
        key = hashlib.sha256(
            canonical_json(
                {
                    "kind": kind,
                    "evidence": item.sha256,
                    "name": item.name,  # the entry names its evidence
                    "attributes": dict(item.attributes),
                    "params": dict(params),
                    "code": _code_digest(),
                }
            )
        ).hexdigest()
    except (TypeError, ValueError):  # an attribute canonical JSON cannot express
        return compute(item)
    path = ws.home / "cache" / "analyses" / f"{key}.json"
    try:
        kept = json.loads(path.read_bytes())
        if isinstance(kept, dict):
            return kept
    except (OSError, ValueError):
        pass
    entry = compute(item)
    if entry.get("error") is not None:
        return entry  # a missing blob or a bad declaration may be fixed: never kept
    try:
        data = json.dumps(entry, ensure_ascii=False, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError):
        return entry
    try:
        from ordinance._files import atomic_write_bytes

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data.encode("utf-8"))
    except OSError:
        pass  # a read-only workspace renders all the same
    # what was kept, exactly: a computed entry and a read-back one are the same data
    loaded: dict[str, Any] = json.loads(data)
    return loaded


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

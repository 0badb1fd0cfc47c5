"""Context building: what a model card or report says, as plain data.

Each ``build_*_context`` function reads the workspace (registry, evidence store, audit log)
and returns a JSON-serialisable ``dict``; renderers (:mod:`ordinance.report.html`,
:mod:`ordinance.report.pdf`, :mod:`ordinance.report.card`) only lay it out. Nothing here imports a
template engine or a PDF library, and nothing reads the wall clock: every date comes from a
record (registration, evaluation, log entry), and every list is sorted, so the same records
always give the same context, and the same context the same bytes.

Missing documentation is ``None`` (rendered as "Not documented"), never invented. Model data
is data: it is never interpreted as template source.

The pipeline for a card::

    version and documentation         _details, _documentation
      → data sets, metrics, lineage     _datasets, _metrics, lineage_of
      → fairness from predictions       fairness_analyses   (compute_fairness on the evidence)
      → explainability artifacts        explainability_of
      → governance status               _governance          (evaluations, approvals, transitions)

A compliance report adds the latest evaluation's rules, waivers, approvals with signer
identities, the version's audit trail, the log checkpoint and its verification, and a
reproducibility footer. The portfolio report summarises every model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ordinance import uris
from ordinance.errors import NotFoundError, OrdinanceError, VerificationError
from ordinance.model import DOCUMENTATION_FIELDS, Evidence, ModelVersion

if TYPE_CHECKING:
    from ordinance.log.store import LogEntry
    from ordinance.metrics.fairness import FairnessReport
    from ordinance.store.registry import TransitionRecord
    from ordinance.workspace import Workspace

__all__ = [
    "ANNEX_IV_SECTIONS",
    "CARD_METRICS",
    "CARD_SCHEMA",
    "NOT_DOCUMENTED",
    "ProgressHook",
    "build_card_context",
    "build_catalog_context",
    "build_portfolio_context",
    "build_report_context",
    "explainability_of",
    "fairness_analyses",
    "fmt_value",
    "lineage_of",
]

T = TypeVar("T")
#: ``(items, total, label) -> items``: wraps a long loop (the CLI passes a progress bar).
ProgressHook = Callable[[Iterable[Any], int, str], Iterable[Any]]

CARD_SCHEMA = uris.MODEL_CARD_SCHEMA
REPORT_SCHEMA = uris.COMPLIANCE_REPORT_SCHEMA
PORTFOLIO_SCHEMA = uris.PORTFOLIO_SCHEMA
NOT_DOCUMENTED = "Not documented"

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

#: Documentation fields by Model Card section (Mitchell et al. 2019), with display labels.
CARD_SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "intended-use",
        "Intended use",
        (
            ("intended_use", "Primary intended uses"),
            ("intended_users", "Primary intended users"),
            ("out_of_scope_uses", "Out-of-scope uses"),
        ),
    ),
    ("factors", "Factors", (("factors", "Relevant factors"),)),
    ("evaluation-data", "Evaluation data", (("evaluation_data", "Evaluation data"),)),
    ("training-data", "Training data", (("training_data", "Training data"),)),
    (
        "ethical-considerations",
        "Ethical considerations",
        (("ethical_considerations", "Ethical considerations"),),
    ),
    (
        "caveats",
        "Caveats and recommendations",
        (
            ("limitations", "Known limitations"),
            ("caveats_and_recommendations", "Caveats and recommendations"),
        ),
    ),
)

#: EU AI Act Annex IV technical-documentation sections and the records that evidence them.
ANNEX_IV_SECTIONS: tuple[tuple[str, str], ...] = (
    ("1", "General description of the AI system"),
    ("2", "Elements and development process"),
    ("3", "Monitoring, functioning and control"),
    ("4", "Appropriateness of performance metrics"),
    ("5", "Risk management system"),
    ("6", "Changes through the lifecycle"),
    ("7", "Harmonised standards applied"),
    ("8", "EU declaration of conformity"),
    ("9", "Post-market monitoring"),
)

_PREDICATES = {
    uris.REGISTRATION: "registration",
    uris.TRANSITION: "transition",
    uris.APPROVAL: "approval",
    uris.DECLINE: "decline",
    uris.WAIVER: "waiver",
    uris.EVIDENCE: "evidence",
    uris.ROSTER_CHANGE: "roster change",
    uris.KEY_CHANGE: "key change",
    uris.VSA: "policy evaluation",
    uris.REVOCATION: "revocation",
    uris.RENDERING: "rendering",
}
#: Where each predicate keeps the time its signer put in it (the report's one clock).
_SIGNED_TIME_FIELDS: tuple[str, ...] = (
    "at",
    "signedAt",
    "timeVerified",
    "registeredAt",
    "appliedAt",
    "revokedAt",
    "renderedAt",
    "rotatedAt",
)
#: Who the statement says acted (a claim unless a signature by that identity backs it).
_CLAIMED_ACTOR_FIELDS: tuple[str, ...] = ("approver", "actor", "author", "revoker")


# --------------------------------------------------------------------------- formatting


def ts(t: datetime | None) -> str | None:
    """A UTC timestamp to the second, ``2026-01-31T12:00:00Z`` (``None`` stays ``None``)."""
    if t is None:
        return None
    t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _norm_ts(text: Any) -> str | None:
    """A stored timestamp string re-rendered as :func:`ts` does (or passed through)."""
    if not isinstance(text, str):
        return None
    parsed = _parse_ts(text)
    return ts(parsed) if parsed is not None else text


def fmt_value(value: Any, *, digits: int = 4, limit: int = 400) -> str:
    """A measured value or threshold as one short line of text (numbers to ``digits``)."""
    text = _fmt(value, digits, depth=0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: Any, digits: int, depth: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.{digits}f}"
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        if not value:
            return "none"
        return ", ".join(_fmt(v, digits, depth + 1) for v in value)
    if isinstance(value, Mapping):
        if not value:
            return "none"
        if depth >= 2:
            return "{…}"
        parts = []
        head = ""
        if "value" in value and not isinstance(value["value"], Mapping | list):
            head = _fmt(value["value"], digits, depth + 1)
            if isinstance(value.get("worst"), str):
                head += f" (worst: {value['worst']})"
        for k in sorted(value, key=str):
            if head and k in ("value", "worst"):
                continue
            v = value[k]
            if isinstance(v, Mapping) and "value" in v:
                parts.append(f"{k} {_fmt(v['value'], digits, depth + 1)}")
            elif isinstance(v, Mapping) and depth >= 1:
                continue
            else:
                parts.append(f"{k}: {_fmt(v, digits, depth + 1)}")
        body = "; ".join(parts)
        return f"{head}; {body}" if head and body else (head or body)
    return str(value)


# --------------------------------------------------------------------------- card parts


def _details(v: ModelVersion) -> dict[str, Any]:
    doc = v.documentation
    return {
        "name": v.model.name,
        "version": v.version,
        "ref": v.ref,
        "owner": v.model.owner,
        "risk_tier": v.model.risk_tier,
        "description": v.model.description or None,
        "summary": doc.get("summary") or None,
        "tags": sorted(v.model.tags),
        "author": v.author,
        "stage": v.stage,
        "created_at": ts(v.created_at),
        "registered_at": ts(v.registered_at),
        "identity": {
            "sha256": v.identity.sha256,
            "method": v.identity.method,
            "resources": v.identity.resources,
        },
        "manifest_sha256": v.manifest_sha256 or None,
        "license": doc.get("license") or None,
        "base_model": doc.get("base_model") or None,
    }


def _documentation(v: ModelVersion) -> dict[str, str | None]:
    out: dict[str, str | None] = {
        k: (v.documentation.get(k) or "").strip() or None for k in DOCUMENTATION_FIELDS
    }
    # Extra documentation fields a manifest may carry are kept, sorted, never dropped.
    for k in sorted(v.documentation):
        if k not in out:
            out[k] = v.documentation[k].strip() or None
    return out


def _sections(documentation: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
    return {
        sid: {
            "id": sid,
            "title": title,
            "fields": [
                {"key": key, "label": label, "text": documentation.get(key)}
                for key, label in fields
            ],
        }
        for sid, title, fields in CARD_SECTIONS
    }


def _metrics(v: ModelVersion) -> list[dict[str, Any]]:
    return [{"name": k, "value": v.metrics[k]} for k in sorted(v.metrics)]


def _datasets(v: ModelVersion, role: str) -> list[dict[str, Any]]:
    return [
        {"name": d.name, "uri": d.uri, "sha256": d.sha256, "role": d.role}
        for d in v.lineage.datasets
        if d.role == role
    ]


def lineage_of(v: ModelVersion) -> dict[str, Any]:
    """Where the version came from: data sets, code, run, parent, environment."""
    lin = v.lineage
    return {
        "datasets": [
            {"name": d.name, "uri": d.uri, "sha256": d.sha256, "role": d.role} for d in lin.datasets
        ],
        "code": None
        if lin.code is None
        else {"repository": lin.code.repository, "commit": lin.code.commit},
        "training_run": lin.training_run,
        "parent": lin.parent,
        "environment": [{"name": k, "value": lin.environment[k]} for k in sorted(lin.environment)],
    }


def _model_artifact(v: ModelVersion) -> dict[str, Any] | None:
    """The model file's name, format and loading facts (from its evidence attributes)."""
    items = sorted(v.evidence_of("model"), key=lambda e: (e.name, e.sha256))
    if not items:
        return None
    e = items[0]
    attrs = e.attributes
    trusted = attrs.get("trusted_types")
    features = attrs.get("features")
    return {
        "name": e.name,
        "sha256": e.sha256,
        "format": str(attrs.get("format") or "") or None,
        "trusted_types": sorted(str(t) for t in trusted) if isinstance(trusted, list) else [],
        "features": [str(f) for f in features] if isinstance(features, list) else [],
    }


def _evidence_list(v: ModelVersion) -> list[dict[str, Any]]:
    items = sorted(v.evidence, key=lambda e: (e.kind, e.name, e.sha256))
    return [
        {
            "kind": e.kind,
            "name": e.name,
            "sha256": e.sha256,
            "size": e.size,
            "media_type": e.media_type,
            "created_at": ts(e.created_at),
            "description": e.description or None,
        }
        for e in items
    ]


# --------------------------------------------------------------------------- fairness


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


# --------------------------------------------------------------------------- governance


def _evaluation_row(row: Mapping[str, Any]) -> dict[str, Any]:
    result = row.get("result") or {}
    summary = result.get("summary") or {}
    return {
        "id": row.get("id"),
        "stage": row.get("stage"),
        "verdict": row.get("verdict"),
        "evaluated_at": _norm_ts(row.get("evaluated_at")),
        "log_index": row.get("log_index"),
        "summary": {k: summary[k] for k in sorted(summary)},
        "policies": sorted(
            (
                {
                    "name": p.get("name"),
                    "version": p.get("version"),
                    "uri": p.get("uri"),
                    "sha256": p.get("sha256"),
                }
                for p in result.get("policies") or []
            ),
            key=lambda p: (str(p["name"]), str(p["sha256"])),
        ),
    }


def _transition(t: TransitionRecord) -> dict[str, Any]:
    return {
        "model": t.model,
        "version": t.version,
        "from_stage": t.from_stage,
        "to_stage": t.to_stage,
        "kind": t.kind,
        "actor": t.actor,
        "at": ts(t.at),
        "reason": t.reason,
        "log_index": t.log_index,
    }


def _signed(ws: Workspace, model: str, version: str | None) -> list[dict[str, Any]]:
    """Approvals and waivers from the approvals index (empty if that part is absent)."""
    try:
        from ordinance.approvals import list_signed
    except ImportError:  # pragma: no cover - approvals not built into this version
        return []
    try:
        rows = list_signed(ws, model, version)
    except NotFoundError:
        return []
    out = []
    for r in rows:
        rev = r.get("revoked")
        out.append(
            {
                "kind": r.get("kind"),
                "digest": r.get("digest"),
                "version": r.get("version"),
                "stage": r.get("stage") or None,
                "rule": r.get("rule") or None,
                "approver": r.get("approver"),
                "signed_at": _norm_ts(r.get("signed_at")),
                "expires_at": _norm_ts(r.get("expires_at")),
                "log_index": r.get("log_index"),
                "revoked": None
                if not rev
                else {
                    "by": rev.get("by"),
                    "at": _norm_ts(rev.get("at")),
                    "reason": rev.get("reason"),
                },
            }
        )
    out.sort(key=lambda r: (r["log_index"] if r["log_index"] is not None else -1, str(r["digest"])))
    return out


def _governance(ws: Workspace, v: ModelVersion) -> dict[str, Any]:
    registry = ws.registry()
    evaluations = [_evaluation_row(r) for r in registry.evaluations(v.model.name, v.version)]
    transitions = [
        _transition(t) for t in registry.transitions(v.model.name) if t.version == v.version
    ]
    signed = _signed(ws, v.model.name, v.version)
    latest: dict[str, dict[str, Any]] = {}
    for e in evaluations:
        latest[str(e["stage"])] = e
    return {
        "stage": v.stage,
        "latest_verdicts": [latest[s] for s in sorted(latest)],
        "evaluations": evaluations,
        "approvals": [s for s in signed if s["kind"] == "approval"],
        "waivers": [s for s in signed if s["kind"] == "waiver"],
        "transitions": transitions,
    }


# --------------------------------------------------------------------------- the log


def _entries_for(ws: Workspace, ref: str) -> list[LogEntry]:
    if not ws.log_key_path.is_file() and not ws.log_vkey_path.is_file():
        return []
    try:
        # only entries proven part of the verified tree (never one inserted past the head)
        entries = ws.log_reader().verified_entries_about(subject=ref)
        return [e for e in entries if e.predicate_type != uris.RENDERING]
    except VerificationError:
        raise  # a tampered log is never rendered as an empty trail
    except OrdinanceError:
        return []


def signed_time(statement: Mapping[str, Any]) -> str | None:
    """The time inside a signed statement (its signer's clock), as :func:`ts` renders it."""
    p = statement.get("predicate") or {}
    for key in _SIGNED_TIME_FIELDS:
        value = p.get(key)
        if isinstance(value, str) and value:
            return _norm_ts(value)
    return None


def _key_names(ws: Workspace) -> dict[str, tuple[str, Any]]:
    """Key ID → (identity, verifier key) for the log key and every roster member's keys."""
    from ordinance.signing import parse_vkey

    out: dict[str, tuple[str, Any]] = {}
    try:
        from ordinance.approvals import Roster, approvals_store

        for row in approvals_store(ws).rosters():
            for m in Roster.from_dict(row.document).members:
                for k in m.keys:
                    vk = parse_vkey(k.vkey)
                    out.setdefault(vk.key_id, (m.id, vk))
    except (ImportError, OrdinanceError):
        pass
    if ws.log_vkey_path.is_file():
        vk = parse_vkey(ws.vkey())
        out[vk.key_id] = (f"log key {vk.name}", vk)
    return out


def _signers(entry: LogEntry, keys: Mapping[str, tuple[str, Any]]) -> list[str]:
    """The identities whose signatures on the entry's envelope verify (key ID hints first)."""
    from ordinance.signing import Envelope, verify_envelope

    try:
        env = Envelope.from_bytes(entry.envelope)
    except OrdinanceError:
        return []
    names = []
    for sig in env.signatures:
        known = keys.get(sig.keyid)
        if known is None:
            continue
        try:
            verify_envelope(Envelope(env.payload, env.payload_type, (sig,)), [known[1]])
        except OrdinanceError:
            continue
        names.append(known[0])
    return sorted(set(names))


def _entry_summary(e: LogEntry) -> str:
    p = e.statement.get("predicate") or {}
    kind = _PREDICATES.get(e.predicate_type, "")
    if kind == "registration":
        return f"registered (author named: {p.get('author', '?')})"
    if kind == "policy evaluation":
        result = p.get("verificationResult", "?")
        policy = (p.get("policy") or {}).get("uri", "?")
        return f"policy {policy}: {result}"
    if kind == "evidence":
        names = [f"{i.get('kind')}/{i.get('name')}" for i in p.get("evidence") or []]
        return "attached " + (", ".join(names) or "evidence")
    if kind == "approval":
        return f"approved for {p.get('stage', '?')}"
    if kind == "decline":
        return f"declined for {p.get('stage', '?')}: {p.get('reason', '')}"
    if kind == "waiver":
        return f"waiver of {p.get('rule', '?')} until {_norm_ts(p.get('expiresAt')) or '?'}"
    if kind == "transition":
        frm, to = p.get("fromStage") or "—", p.get("toStage") or p.get("to") or "?"
        return f"{p.get('kind', 'transition')}: {frm} → {to}"
    if kind == "revocation":
        return f"revoked {str(p.get('approval') or p.get('digest') or '')[:12]}"
    return kind or e.predicate_type


def _claimed_actor(statement: Mapping[str, Any]) -> str | None:
    p = statement.get("predicate") or {}
    for key in _CLAIMED_ACTOR_FIELDS:
        value = p.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _audit_trail(
    entries: Sequence[LogEntry], keys: Mapping[str, tuple[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        signers = _signers(e, keys)
        claimed = _claimed_actor(e.statement)
        out.append(
            {
                "index": e.index,
                "signed_at": signed_time(e.statement),
                "predicate_type": e.predicate_type,
                "kind": _PREDICATES.get(e.predicate_type, "other"),
                "subject_digest": e.subject_digest,
                "summary": _entry_summary(e),
                "signed_by": signers,
                # a name the statement gives that no verified signature of its own backs
                "claimed_actor": None if claimed is None or claimed in signers else claimed,
                "leaf_hash": e.leaf_hash.hex(),
            }
        )
    return out


def _pinned_size(log: Any, size: int) -> int:
    """The log size a document is built from: the head, not counting trailing rendering
    records (rendering a report is not an input to the next rendering)."""
    n = size
    while n > 0 and log.entry(n - 1).predicate_type == uris.RENDERING:
        n -= 1
    return n


def _log_state(ws: Workspace, *, verify: bool) -> dict[str, Any]:
    """The checkpoint the document is built from and the result of verifying the log."""
    import base64
    import hashlib

    out: dict[str, Any] = {
        "origin": ws.config.log_origin,
        "present": False,
        "size": 0,
        "root": None,
        "root_base64": None,
        "checkpoint": None,
        "as_of": None,
        "verification": None,
        "vkey": None,
        "vkey_fingerprint": None,
    }
    if not ws.log_vkey_path.is_file():
        return out
    try:
        vkey = ws.vkey()
        out["vkey"] = vkey
        out["vkey_fingerprint"] = "sha256:" + hashlib.sha256(vkey.encode()).hexdigest()
        from ordinance.log.store import TransparencyLog

        log = TransparencyLog.reader(ws.engine(), vkey, ws.config.log_origin)
        head = log.size()
        size = _pinned_size(log, head)
        try:
            checkpoint = log.checkpoint(size) if size else None
        except NotFoundError:  # appended in a batch: no checkpoint at that size
            size = head
            checkpoint = log.checkpoint(size) if size else None
        root = log.root_at(size) if size else log.root()
        out["present"] = True
        out["size"] = size
        out["root"] = root.hex()
        out["root_base64"] = base64.b64encode(root).decode()
        out["checkpoint"] = checkpoint
        for i in range(size - 1, -1, -1):
            when = signed_time(log.entry(i).statement)
            if when is not None:
                out["as_of"] = when
                break
        if verify:
            # whether the whole stored log verifies against its signed checkpoints (counts
            # and the head are left out: rendering records grow them, and are not inputs)
            r = log.verify(vkey)
            out["verification"] = {"ok": bool(r.ok), "reason": r.reason}
    except OrdinanceError as exc:
        out["verification"] = {"ok": False, "reason": exc.message}
    return out


def _ordinance_version() -> str:
    from ordinance import __version__

    return __version__


# --------------------------------------------------------------------------- public builders


def build_card_context(
    ws: Workspace, model: str, version: str | None = None, *, min_group_size: int = 30
) -> dict[str, Any]:
    """Everything a model card shows for ``model@version`` (latest version if ``None``)."""
    v = ws.registry().get_version(model, version)
    documentation = _documentation(v)
    entries = _entries_for(ws, v.ref)
    governance = _governance(ws, v)
    signed = [t for t in (signed_time(e.statement) for e in entries) if t]
    dates = [_parse_ts(t) for t in signed] or [v.registered_at]
    return {
        "kind": "card",
        "schema": CARD_SCHEMA,
        "generator": {"name": "ordinance", "version": _ordinance_version()},
        "title": f"Model card: {v.ref}",
        "date": ts(max(d for d in dates if d is not None)),
        "details": _details(v),
        "documentation": documentation,
        "sections": _sections(documentation),
        "metrics": _metrics(v),
        "datasets": {
            "training": _datasets(v, "training"),
            "evaluation": _datasets(v, "evaluation") + _datasets(v, "validation"),
            "other": _datasets(v, "reference") + _datasets(v, "other"),
        },
        "card_metrics": list(CARD_METRICS),
        "fairness": fairness_analyses(ws, v, min_group_size=min_group_size),
        "outcomes": outcomes_of(ws, v),
        "model_artifact": _model_artifact(v),
        "public": False,
        "explainability": explainability_of(ws, v),
        "lineage": lineage_of(v),
        "governance": governance,
        "evidence": _evidence_list(v),
        "log_indices": [e.index for e in entries],
    }


def _rule_row(r: Mapping[str, Any]) -> dict[str, Any]:
    waiver = r.get("waiver")
    return {
        "rule": r.get("rule"),
        "pack": r.get("pack"),
        "type": r.get("type"),
        "status": r.get("status"),
        "severity": r.get("severity"),
        "measured": r.get("measured"),
        "threshold": r.get("threshold"),
        "measured_text": fmt_value(r.get("measured")),
        "threshold_text": fmt_value(r.get("threshold")),
        "message": r.get("message") or "",
        "detail": r.get("detail") or "",
        "references": sorted(str(x) for x in r.get("references") or []),
        "evidence": sorted(
            (
                {"kind": e.get("kind"), "name": e.get("name"), "sha256": e.get("sha256")}
                for e in r.get("evidence") or []
            ),
            key=lambda e: str(e["sha256"]),
        ),
        "waiver": None
        if not waiver
        else {
            "id": waiver.get("id"),
            "waived_status": waiver.get("waived_status"),
            "justification": waiver.get("justification"),
            "approved_by": waiver.get("approved_by"),
            "expires_at": _norm_ts(waiver.get("expires_at")),
        },
    }


def _default_stage(ws: Workspace, v: ModelVersion, rows: Sequence[Mapping[str, Any]]) -> str:
    """The stage a report judges when none is asked: the latest recorded evaluation's, else
    the next stage up the ladder from the version's, else its own."""
    if rows:
        return str(rows[-1].get("stage"))
    stages = list(ws.config.stages)
    if v.stage in stages and stages.index(v.stage) + 1 < len(stages):
        nxt = stages[stages.index(v.stage) + 1]
        if nxt != "archived":
            return nxt
    return v.stage


def _findings_register(
    ws: Workspace, v: ModelVersion, scope: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Validation findings: the validator's own (``findings`` evidence, JSON) and one per
    blocking, erroring, waived or warning rule of the scope. A finding without an owner or a
    remediation date says so; nothing is filled in."""
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for item in sorted(v.evidence_of("findings"), key=lambda e: (e.name, e.sha256)):
        try:
            raw = json.loads(ws.evidence.open_path(item.sha256).read_text(encoding="utf-8"))
            found = raw.get("findings") if isinstance(raw, dict) else raw
            if not isinstance(found, list):
                raise ValueError("expected a JSON list of findings (or {'findings': [...]})")
            for f in found:
                if not isinstance(f, dict):
                    raise ValueError("each finding must be a JSON object")
                rows.append(
                    {
                        "id": str(f.get("id") or ""),
                        "title": str(f.get("title") or f.get("description") or ""),
                        "severity": f.get("severity"),
                        "owner": f.get("owner"),
                        "remediation_date": f.get("remediation_date"),
                        "status": f.get("status") or "open",
                        "source": f"findings/{item.name} sha256:{item.sha256[:12]}…",
                    }
                )
        except (OrdinanceError, OSError, ValueError) as exc:
            errors.append(f"{item.name}: {getattr(exc, 'message', None) or exc}")
    severity = {"block": "high", "warn": "medium"}
    for kind, items in (
        ("blocking", scope["blocking"]),
        ("error", [f for f in scope["errors"] if f not in scope["blocking"]]),
        ("waived", scope["waived"]),
        ("warning", scope["warnings"]),
    ):
        for f in items:
            w = f.get("waiver")
            rows.append(
                {
                    "id": f["key"],
                    "title": f"{f['rule']} ({kind}): {f['detail']}",
                    "severity": severity.get(str(f["severity"]), "low"),
                    "owner": owner,
                    "remediation_date": w["expires_at"] if w else None,
                    "status": "waived until remediation" if w else "open",
                    "source": f"policy rule {f['key']}",
                }
            )
    return {
        "findings": rows,
        "errors": errors,
        "validator_register": bool(v.evidence_of("findings")),
        "incomplete": [r["id"] for r in rows if not r["owner"] or not r["remediation_date"]],
    }


def _with_signers(
    rows: Sequence[Mapping[str, Any]], trail: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    by_index = {e["index"]: e for e in trail}
    out = []
    for r in rows:
        e = by_index.get(r.get("log_index"))
        out.append(
            {
                **r,
                "signed_by": e["signed_by"] if e else [],
                "claimed_actor": e["claimed_actor"] if e else None,
            }
        )
    return out


def build_report_context(
    ws: Workspace,
    model: str,
    version: str | None = None,
    *,
    stage: str | None = None,
    packs: Sequence[str] | None = None,
    verify_log: bool = True,
    min_group_size: int = 30,
) -> dict[str, Any]:
    """A compliance and validation report for ``model@version``.

    Scope first: every pack governing ``stage`` (or ``packs``) is evaluated at the report's
    reference time — the newest signed statement time in the log it is built from — and
    page 1 names each pack with its verdict, the blocking failures, active waivers and open
    approvals. Then the validation report (SR 11-7 structure), EU AI Act Annex IV coverage
    with the evidence for each item, outcomes analysis, fairness, the findings register,
    the signed audit trail and the checkpoint the report was built from.
    """
    from ordinance.report.coverage import coverage
    from ordinance.report.scope import evaluate_scope, scope_summary

    card = build_card_context(ws, model, version, min_group_size=min_group_size)
    d = card["details"]
    registry = ws.registry()
    v = registry.get_version(d["name"], d["version"])
    rows = registry.evaluations(d["name"], d["version"])
    target = stage or _default_stage(ws, v, rows)
    if stage is not None:
        rows = [r for r in rows if r.get("stage") == stage]
    latest = rows[-1] if rows else None
    log = _log_state(ws, verify=verify_log)
    as_of = log["as_of"] or card["date"]
    reference = _parse_ts(as_of) or v.registered_at
    gate_result = evaluate_scope(ws, v, target, reference, packs)
    scope_eval = gate_result.evaluation
    pack_objs = gate_result.policy.packs
    scope = {**scope_summary(gate_result, bool(packs)), "at": ts(reference)}
    result: Mapping[str, Any] = (
        scope_eval.to_dict() if scope_eval is not None else (latest or {}).get("result") or {}
    )
    rules = [_rule_row(r) for r in result.get("results") or []]
    evaluation = None
    if latest is not None:
        recorded = latest.get("result") or {}
        evaluation = {
            **_evaluation_row(latest),
            "policy_bundle": recorded.get("policy_bundle"),
            "identity_sha256": (recorded.get("identity") or {}).get("sha256"),
        }
    approvals_used = {
        str(a.get("digest")): sorted(a.get("roles") or []) for a in result.get("approvals") or []
    }
    keys = _key_names(ws)
    entries = _entries_for(ws, d["ref"])
    trail = _audit_trail(entries, keys)
    approvals = _with_signers(
        [
            {**a, "roles": approvals_used.get(str(a["digest"]), [])}
            for a in card["governance"]["approvals"]
        ],
        trail,
    )
    waiver_uses = sorted(
        (
            {
                "id": w.get("id"),
                "rule": w.get("rule"),
                "status": w.get("status"),
                "detail": w.get("detail"),
                "justification": w.get("justification"),
                "approved_by": w.get("approved_by"),
                "approved_at": _norm_ts(w.get("approved_at")),
                "expires_at": _norm_ts(w.get("expires_at")),
                "origin": w.get("origin"),
            }
            for w in result.get("waivers") or []
        ),
        key=lambda w: (str(w["rule"]), str(w["id"])),
    )
    counts = {
        s: sum(1 for r in rules if r["status"] == s)
        for s in ("pass", "fail", "warn", "waived", "error", "not_applicable")
    }
    policies = sorted(
        (
            {"name": p.name, "version": p.version, "uri": p.source.uri, "sha256": p.source.sha256}
            for p in pack_objs
        ),
        key=lambda p: (p["name"], p["sha256"]),
    )
    governance = {
        **card["governance"],
        "transitions": _with_signers(card["governance"]["transitions"], trail),
        "waivers": _with_signers(card["governance"]["waivers"], trail),
    }
    ctx: dict[str, Any] = {
        **card,
        "kind": "report",
        "schema": REPORT_SCHEMA,
        "title": f"Compliance and validation report: {d['ref']}",
        "date": as_of,
        "verdict": scope["verdict"],
        "scope": scope,
        "evaluation": evaluation,
        "governance": governance,
        "rule_counts": counts,
        "rules": rules,
        "references": sorted({ref for r in rules for ref in r["references"]}),
        "waiver_uses": waiver_uses,
        "approvals": approvals,
        "audit_trail": trail,
        "log": log,
        "findings": _findings_register(ws, v, scope, d["owner"]),
        "reproducibility": {
            "ordinance_version": _ordinance_version(),
            "policies": policies,
            "evidence": [
                {"kind": e["kind"], "name": e["name"], "sha256": e["sha256"]}
                for e in card["evidence"]
            ],
            "identity_sha256": d["identity"]["sha256"],
            "manifest_sha256": d["manifest_sha256"],
            "log_size": log["size"],
            "log_root": log["root"],
            "log_root_base64": log["root_base64"],
        },
    }
    ctx["frameworks"] = [coverage(ctx, "sr-11-7"), coverage(ctx, "annex-iv")]
    return ctx


# --------------------------------------------------------------------------- portfolio


def _annex_iv(
    ws: Workspace, v: ModelVersion, keys: Mapping[str, tuple[str, Any]]
) -> list[dict[str, Any]]:
    """Annex IV coverage of one version by the same mapping and checks as its report (the
    statistics computed without bootstrap intervals): no counts standing in for evidence."""
    from ordinance.report.coverage import coverage

    card_like: dict[str, Any] = {
        "details": _details(v),
        "documentation": _documentation(v),
        "evidence": _evidence_list(v),
        "lineage": lineage_of(v),
        "audit_trail": _audit_trail(_entries_for(ws, v.ref), keys),
        "outcomes": outcomes_of(ws, v, rounds=0),
        "fairness": fairness_analyses(ws, v),
        "explainability": explainability_of(ws, v),
    }
    approvals = _signed(ws, v.model.name, v.version)
    card_like["approvals"] = [a for a in approvals if a["kind"] == "approval"]
    items = coverage(card_like, "annex-iv")["items"]
    return [
        {
            "section": i["id"],
            "title": i["title"],
            "status": i["status"],
            "present": i["status"] == "covered",
            "evidence": [e["ref"] for e in i["evidence"]],
            "missing": i["missing"],
        }
        for i in items
    ]


def _in_period(t: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``t`` is in the period, at the one-second precision reports display."""
    t = t.replace(microsecond=0)
    return (since is None or t >= since) and (until is None or t <= until)


def build_portfolio_context(
    ws: Workspace,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    expiring_within_days: int = 30,
    revalidate_after_days: int = 365,
    progress: ProgressHook | None = None,
) -> dict[str, Any]:
    """Every model and version with its stage and latest verdict, failing and warning rules,
    waivers expiring soon, overdue revalidations, transitions in the period, and the
    EU AI Act Annex IV coverage matrix.

    The reference time ("as of") is ``until`` when given, else the newest record (log entry,
    transition, evaluation or registration): never the wall clock.
    """
    registry = ws.registry()
    models = registry.list_models()
    transitions = registry.transitions()
    # the newest signed statement time in the log (never the time an entry was stored)
    log_state = _log_state(ws, verify=False)
    log_head = _parse_ts(log_state["as_of"])
    candidates = [t.at for t in transitions] + [v.registered_at for _, vs in models for v in vs]
    if log_head is not None:
        candidates.append(log_head)
    as_of = until or (max(candidates) if candidates else datetime(1970, 1, 1, tzinfo=UTC))
    expiring_before = as_of + timedelta(days=expiring_within_days)
    revalidate_before = as_of - timedelta(days=revalidate_after_days)

    keys = _key_names(ws)
    by_model: dict[str, list[TransitionRecord]] = {}
    for t in transitions:
        by_model.setdefault(t.model, []).append(t)

    rows: list[dict[str, Any]] = []
    failing: list[dict[str, Any]] = []
    expiring: list[dict[str, Any]] = []
    overdue: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    stage_counts: dict[str, int] = {}
    verdict_counts: dict[str, int] = {}
    items: Iterable[Any] = models
    if progress is not None:
        items = progress(models, len(models), "portfolio")
    for m, versions in items:
        current = _current_version(versions)
        version_rows = []
        for v in versions:
            evals = registry.evaluations(m.name, v.version)
            last = evals[-1] if evals else None
            verdict = last.get("verdict") if last else None
            result = (last or {}).get("result") or {}
            fails = [
                r
                for r in result.get("results") or []
                if r.get("status") in ("fail", "error", "warn")
            ]
            # rule-level detail for the version that matters (the current one), counts for all
            for r in fails if v is current else ():
                failing.append(
                    {
                        "model": m.name,
                        "version": v.version,
                        "stage": v.stage,
                        "evaluated_for": last.get("stage") if last else None,
                        "rule": r.get("rule"),
                        "pack": r.get("pack"),
                        "status": r.get("status"),
                        "severity": r.get("severity"),
                        "detail": fmt_value(r.get("detail") or "", limit=160),
                    }
                )
            stage_counts[v.stage] = stage_counts.get(v.stage, 0) + 1
            key = verdict or "not evaluated"
            verdict_counts[key] = verdict_counts.get(key, 0) + 1
            version_rows.append(
                {
                    "version": v.version,
                    "stage": v.stage,
                    "registered_at": ts(v.registered_at),
                    "verdict": verdict,
                    "evaluated_for": last.get("stage") if last else None,
                    "evaluated_at": _norm_ts(last.get("evaluated_at")) if last else None,
                    "failing": sum(1 for r in fails if r.get("status") in ("fail", "error")),
                    "warnings": sum(1 for r in fails if r.get("status") == "warn"),
                }
            )
            # revalidation: live versions need a validation report newer than the cadence
            if v.stage not in ("archived",) and v.stage in ("production", "staging"):
                reports = [e for e in v.evidence if e.kind == "validation_report"]
                newest = max((e.created_at for e in reports), default=None)
                if newest is None or newest < revalidate_before:
                    overdue.append(
                        {
                            "model": m.name,
                            "version": v.version,
                            "stage": v.stage,
                            "last_validation": ts(newest),
                            "due": ts(
                                (newest or v.registered_at) + timedelta(days=revalidate_after_days)
                            ),
                        }
                    )
        for w in _signed(ws, m.name, None):
            if w["kind"] != "waiver" or w["revoked"] or not w["expires_at"]:
                continue
            exp = _parse_ts(w["expires_at"])
            if exp is not None and exp <= expiring_before:
                expiring.append(
                    {
                        "model": m.name,
                        "version": w["version"],
                        "rule": w["rule"],
                        "approver": w["approver"],
                        "expires_at": w["expires_at"],
                        "expired": exp < as_of,
                        "log_index": w["log_index"],
                    }
                )
        if current is not None:
            coverage.append(
                {
                    "model": m.name,
                    "version": current.version,
                    "stage": current.stage,
                    "sections": _annex_iv(ws, current, keys),
                }
            )
        rows.append(
            {
                "name": m.name,
                "owner": m.owner,
                "risk_tier": m.risk_tier,
                "description": m.description or None,
                "current": current.version if current is not None else None,
                "current_stage": current.stage if current is not None else None,
                "versions": version_rows,
            }
        )
    in_period = [_transition(t) for t in transitions if _in_period(t.at, since, until)]
    failing.sort(key=lambda r: (r["model"], r["version"], str(r["pack"]), str(r["rule"])))
    expiring.sort(key=lambda r: (r["expires_at"], r["model"], str(r["version"]), str(r["rule"])))
    overdue.sort(key=lambda r: (r["model"], r["version"]))
    n_versions = sum(len(r["versions"]) for r in rows)
    return {
        "kind": "portfolio",
        "schema": PORTFOLIO_SCHEMA,
        "generator": {"name": "ordinance", "version": _ordinance_version()},
        "title": "Model portfolio report",
        "date": ts(as_of),
        "period": {"since": ts(since), "until": ts(until), "as_of": ts(as_of)},
        "settings": {
            "expiring_within_days": expiring_within_days,
            "revalidate_after_days": revalidate_after_days,
        },
        "totals": {
            "models": len(rows),
            "versions": n_versions,
            "stages": [{"stage": s, "count": stage_counts[s]} for s in sorted(stage_counts)],
            "verdicts": [
                {"verdict": s, "count": verdict_counts[s]} for s in sorted(verdict_counts)
            ],
        },
        "models": rows,
        "failing_rules": [r for r in failing if r["status"] in ("fail", "error")],
        "warning_rules": [r for r in failing if r["status"] == "warn"],
        "expiring_waivers": expiring,
        "overdue_revalidations": overdue,
        "transitions": in_period,
        "annex_iv_sections": [{"section": s, "title": t} for s, t in ANNEX_IV_SECTIONS],
        "coverage": coverage,
    }


def _current_version(versions: Sequence[ModelVersion]) -> ModelVersion | None:
    """The version a catalog shows: the production holder, else staging, else the newest."""
    for stage in ("production", "staging"):
        held = [v for v in versions if v.stage == stage]
        if held:
            return held[-1]
    return versions[-1] if versions else None


def build_catalog_context(ws: Workspace) -> dict[str, Any]:
    """The index of a published catalog: every model with every version, its stage, the latest
    recorded verdict, and links to its card (and the current version's report)."""
    registry = ws.registry()
    entries = []
    dates: list[datetime] = []
    facets: dict[str, set[str]] = {"stages": set(), "verdicts": set(), "risk_tiers": set()}
    for m, versions in registry.list_models():
        current = _current_version(versions)
        if current is None:
            continue
        dates.append(max(v.registered_at for v in versions))
        others = sorted(
            (v for v in versions if v is not current),
            key=lambda v: (v.registered_at, v.version),
            reverse=True,
        )
        ordered = [current, *others]
        rows = []
        for v in ordered:
            evals = registry.evaluations(m.name, v.version)
            last = evals[-1] if evals else None
            verdict = last.get("verdict") if last else None
            facets["stages"].add(v.stage)
            facets["verdicts"].add(verdict or "not evaluated")
            rows.append(
                {
                    "version": v.version,
                    "stage": v.stage,
                    "current": v is current,
                    "registered_at": ts(v.registered_at),
                    "verdict": verdict,
                    "evaluated_for": last.get("stage") if last else None,
                    "evaluated_at": _norm_ts(last.get("evaluated_at")) if last else None,
                    "card_href": page_name(m.name, v.version),
                    "report_href": report_page_name(m.name) if v is current else None,
                }
            )
        facets["risk_tiers"].add(m.risk_tier or "none")
        entries.append(
            {
                "name": m.name,
                "version": current.version,
                "stage": current.stage,
                "owner": m.owner,
                "risk_tier": m.risk_tier,
                "description": m.description or None,
                "summary": current.documentation.get("summary") or None,
                "tags": sorted(m.tags),
                "href": page_name(m.name),
                "report_href": report_page_name(m.name),
                "n_versions": len(rows),
                "versions": rows,
            }
        )
    return {
        "kind": "catalog",
        "schema": uris.CATALOG_SCHEMA,
        "generator": {"name": "ordinance", "version": _ordinance_version()},
        "title": "Model catalog",
        "date": ts(max(dates)) if dates else None,
        "models": entries,
        "filters": {k: sorted(v) for k, v in facets.items()},
    }


def _safe(text: str, fallback: str = "model") -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip(".-") or fallback
    if safe != text:
        import hashlib

        safe += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return safe


def page_name(model: str, version: str | None = None) -> str:
    """A safe file name for a model's catalog page (its current card), or one version's card."""
    base = _safe(model)
    return f"{base}.html" if version is None else f"{base}@{_safe(version, 'version')}.html"


def report_page_name(model: str) -> str:
    """A safe file name for the compliance report of a model's current version."""
    return f"{_safe(model)}-report.html"

"""The portfolio report (every model: verdicts, failing rules, expiring waivers, overdue
revalidations, transitions, Annex IV coverage) and the static catalog's index.

The reference time ("as of") is never the wall clock: ``until`` when given, else the newest
record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance.model import ModelVersion
from ordinance.report._format import fmt_value, norm_ts, parse_ts, ts
from ordinance.report.analyses import explainability_of, fairness_analyses, outcomes_of
from ordinance.report.facts import details_of, documentation_of, evidence_list, lineage_of
from ordinance.report.trail import (
    audit_trail,
    entries_for,
    key_names,
    log_state,
    ordinance_version,
    signed_rows,
    transition_row,
)

if TYPE_CHECKING:
    from ordinance.store.registry import TransitionRecord
    from ordinance.workspace import Workspace

__all__ = [
    "ANNEX_IV_SECTIONS",
    "PORTFOLIO_SCHEMA",
    "ProgressHook",
    "build_catalog_context",
    "build_portfolio_context",
    "page_name",
    "report_page_name",
]

#: ``(items, total, label) -> items``: wraps a long loop (the CLI passes a progress bar).
ProgressHook = Callable[[Iterable[Any], int, str], Iterable[Any]]
PORTFOLIO_SCHEMA = uris.PORTFOLIO_SCHEMA

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


def _annex_iv(
    ws: Workspace, v: ModelVersion, keys: Mapping[str, tuple[str, Any]]
) -> list[dict[str, Any]]:
    """Annex IV coverage of one version by the same mapping and checks as its report (the
    statistics computed without bootstrap intervals): no counts standing in for evidence."""
    from ordinance.report.coverage import coverage

    card_like: dict[str, Any] = {
        "details": details_of(v),
        "documentation": documentation_of(v),
        "evidence": evidence_list(v),
        "lineage": lineage_of(v),
        "audit_trail": audit_trail(entries_for(ws, v.ref), keys),
        "outcomes": outcomes_of(ws, v, rounds=0),
        "fairness": fairness_analyses(ws, v),
        "explainability": explainability_of(ws, v),
    }
    approvals = signed_rows(ws, v.model.name, v.version)
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
    state = log_state(ws, verify=False)
    log_head = parse_ts(state["as_of"])
    candidates = [t.at for t in transitions] + [v.registered_at for _, vs in models for v in vs]
    if log_head is not None:
        candidates.append(log_head)
    as_of = until or (max(candidates) if candidates else datetime(1970, 1, 1, tzinfo=UTC))
    expiring_before = as_of + timedelta(days=expiring_within_days)
    revalidate_before = as_of - timedelta(days=revalidate_after_days)

    keys = key_names(ws)
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
                    "evaluated_at": norm_ts(last.get("evaluated_at")) if last else None,
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
        for w in signed_rows(ws, m.name, None):
            if w["kind"] != "waiver" or w["revoked"] or not w["expires_at"]:
                continue
            exp = parse_ts(w["expires_at"])
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
    in_period = [transition_row(t) for t in transitions if _in_period(t.at, since, until)]
    failing.sort(key=lambda r: (r["model"], r["version"], str(r["pack"]), str(r["rule"])))
    expiring.sort(key=lambda r: (r["expires_at"], r["model"], str(r["version"]), str(r["rule"])))
    overdue.sort(key=lambda r: (r["model"], r["version"]))
    n_versions = sum(len(r["versions"]) for r in rows)
    return {
        "kind": "portfolio",
        "schema": PORTFOLIO_SCHEMA,
        "generator": {"name": "ordinance", "version": ordinance_version()},
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
                    "evaluated_at": norm_ts(last.get("evaluated_at")) if last else None,
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
        "generator": {"name": "ordinance", "version": ordinance_version()},
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

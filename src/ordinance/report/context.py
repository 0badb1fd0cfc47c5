"""Context building: what a model card or report says, as plain data.

Each ``build_*_context`` function reads the workspace (registry, evidence store, audit log)
and returns a JSON-serialisable ``dict``; renderers (:mod:`ordinance.report.html`,
:mod:`ordinance.report.pdf`, :mod:`ordinance.report.card`) only lay it out. Nothing here imports a
template engine or a PDF library, and nothing reads the wall clock: every date comes from a
record (registration, evaluation, log entry), and every list is sorted, so the same records
always give the same context, and the same context the same bytes.

Missing documentation is ``None`` (rendered as "Not documented"), never invented. Model data
is data: it is never interpreted as template source.

The pipeline for a card, one module per concept::

    version facts (details, documentation, data sets, metrics, lineage)   facts.py
      → outcomes, fairness, explainability from the evidence files         analyses.py
      → governance status and the signed audit trail                       trail.py

A compliance report (here) adds the scope (:mod:`~ordinance.report.scope`), the rules, waivers,
approvals with signer identities, the findings register, the framework coverage
(:mod:`~ordinance.report.coverage`), the log checkpoint and its verification, and a
reproducibility footer. The portfolio report and the catalog index are in
:mod:`~ordinance.report.portfolio`; every public name stays importable from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance.errors import OrdinanceError
from ordinance.model import ModelVersion
from ordinance.report._format import fmt_value, norm_ts, parse_ts, ts
from ordinance.report.analyses import (
    CARD_METRICS,
    explainability_of,
    fairness_analyses,
    outcomes_of,
)
from ordinance.report.facts import (
    datasets_of,
    details_of,
    documentation_of,
    evidence_list,
    lineage_of,
    metrics_of,
    model_artifact,
    sections_of,
)
from ordinance.report.portfolio import (
    ANNEX_IV_SECTIONS,
    ProgressHook,
    build_catalog_context,
    build_portfolio_context,
    page_name,
    report_page_name,
)
from ordinance.report.trail import (
    audit_trail,
    entries_for,
    entry_summary,
    evaluation_row,
    governance_of,
    key_names,
    log_state,
    ordinance_version,
    signed_time,
)

if TYPE_CHECKING:
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
    "page_name",
    "report_page_name",
    "signed_time",
    "ts",
]

#: the console's version page reads the one-line summary of a log entry under this name
_entry_summary = entry_summary

CARD_SCHEMA = uris.MODEL_CARD_SCHEMA
REPORT_SCHEMA = uris.COMPLIANCE_REPORT_SCHEMA
NOT_DOCUMENTED = "Not documented"


def build_card_context(
    ws: Workspace, model: str, version: str | None = None, *, min_group_size: int = 30
) -> dict[str, Any]:
    """Everything a model card shows for ``model@version`` (latest version if ``None``)."""
    v = ws.registry().get_version(model, version)
    documentation = documentation_of(v)
    entries = entries_for(ws, v.ref)
    governance = governance_of(ws, v)
    signed = [t for t in (signed_time(e.statement) for e in entries) if t]
    dates = [parse_ts(t) for t in signed] or [v.registered_at]
    return {
        "kind": "card",
        "schema": CARD_SCHEMA,
        "generator": {"name": "ordinance", "version": ordinance_version()},
        "title": f"Model card: {v.ref}",
        "date": ts(max(d for d in dates if d is not None)),
        "details": details_of(v),
        "documentation": documentation,
        "sections": sections_of(documentation),
        "metrics": metrics_of(v),
        "datasets": {
            "training": datasets_of(v, "training"),
            "evaluation": datasets_of(v, "evaluation") + datasets_of(v, "validation"),
            "other": datasets_of(v, "reference") + datasets_of(v, "other"),
        },
        "card_metrics": list(CARD_METRICS),
        "fairness": fairness_analyses(ws, v, min_group_size=min_group_size),
        "outcomes": outcomes_of(ws, v),
        "model_artifact": model_artifact(v),
        "public": False,
        "explainability": explainability_of(ws, v),
        "lineage": lineage_of(v),
        "governance": governance,
        "evidence": evidence_list(v),
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
            "expires_at": norm_ts(waiver.get("expires_at")),
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
    log = log_state(ws, verify=verify_log)
    as_of = log["as_of"] or card["date"]
    reference = parse_ts(as_of) or v.registered_at
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
            **evaluation_row(latest),
            "policy_bundle": recorded.get("policy_bundle"),
            "identity_sha256": (recorded.get("identity") or {}).get("sha256"),
        }
    approvals_used = {
        str(a.get("digest")): sorted(a.get("roles") or []) for a in result.get("approvals") or []
    }
    keys = key_names(ws)
    entries = entries_for(ws, d["ref"])
    trail = audit_trail(entries, keys)
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
                "approved_at": norm_ts(w.get("approved_at")),
                "expires_at": norm_ts(w.get("expires_at")),
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
            "ordinance_version": ordinance_version(),
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

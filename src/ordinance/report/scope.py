"""A report's scope: which packs govern the stage, and what they say about the version now.

A compliance report's verdict is only as good as the packs behind it, so the report
evaluates every pack that governs the target stage (or the packs the reader asked for) at
the report's reference time — a signed statement time, never the wall clock — with the
signed approvals and waivers that were valid then. Page 1 names every pack with its own
verdict, the blocking failures, the waived failures (as *waived*, never as a warning), the
active waivers and the approvals still missing.

The pipeline::

    governing_packs      which packs (the one switch point to ordinance.gate)
      → collect_inputs   verified approvals and waivers for the stage
      → evaluate         every rule of every pack
      → scope_summary    per-pack verdicts, blocking, waived, warnings, open approvals
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ordinance.gate import GateResult
    from ordinance.model import ModelVersion
    from ordinance.policy.evaluate import Finding
    from ordinance.workspace import Workspace

__all__ = ["evaluate_scope", "scope_summary"]


def evaluate_scope(
    ws: Workspace,
    version: ModelVersion,
    stage: str,
    at: datetime,
    asked: Sequence[str] | None = None,
) -> GateResult:
    """The gate's evaluation of ``version`` for ``stage`` at ``at``: the packs that govern the
    stage (from :mod:`ordinance.gate`, the one owner of that decision, so ``check``,
    ``promote`` and ``report`` agree), or the packs ``asked`` for, with the signed approvals
    and waivers valid at ``at``."""
    gate = ws.gate()
    packs = None
    if asked:
        from ordinance.policy import load_packs

        packs = tuple(load_packs(list(asked), base=ws.home))
    return gate.evaluate(version, stage, at, packs=packs)


def _ts(t: datetime) -> str:
    from ordinance.report.context import ts

    return str(ts(t))


def _finding_row(f: Finding) -> dict[str, Any]:
    row: dict[str, Any] = {
        "key": f.key,
        "pack": f.pack,
        "rule": f.spec.id,
        "status": str(f.status),
        "severity": f.spec.severity,
        "detail": f.result.detail,
        "references": sorted(str(r) for r in f.spec.references),
        "waiver": None,
    }
    if f.waiver is not None:
        row["waiver"] = {
            "id": f.waiver.id,
            "waived_status": str(f.waived_status),
            "approved_by": f.waiver.approved_by,
            "expires_at": _ts(f.waiver.expires_at),
            "justification": f.waiver.justification,
        }
    return row


def scope_summary(result: GateResult, asked: bool) -> dict[str, Any]:
    """What page 1 shows: per-pack verdicts, blocking, waived and warning findings, active
    waivers and open approvals, and the gate's reasons."""
    from ordinance.policy.evaluate import decide_verdict

    evaluation = result.evaluation
    packs = result.policy.packs
    base: dict[str, Any] = {
        "stage": result.stage,
        "asked": asked,
        "verdict": result.verdict,
        "reasons": list(result.reasons) + list(result.notes),
        "policy": result.policy.describe(),
        "packs": [],
        "blocking": [],
        "waived": [],
        "warnings": [],
        "errors": [],
        "active_waivers": [],
        "open_approvals": [],
        "counts": {},
        "total": 0,
    }
    if evaluation is None:
        return base
    findings = evaluation.findings
    pack_rows = []
    for p in packs:
        mine = [f for f in findings if f.pack == p.name]
        pack_rows.append(
            {
                "name": p.name,
                "version": p.version,
                "description": p.description,
                "frameworks": list(p.frameworks),
                "uri": p.source.uri,
                "sha256": p.source.sha256,
                "rules": len(mine),
                "verdict": decide_verdict(mine) if mine else None,
                "blocking": sum(1 for f in mine if f.blocking),
                "waived": sum(1 for f in mine if str(f.status) == "waived"),
                "warnings": sum(1 for f in mine if f.warning),
            }
        )
    open_approvals = []
    for f in findings:
        if f.spec.type == "approvals.required" and str(f.status) != "pass":
            measured = f.result.measured if isinstance(f.result.measured, dict) else {}
            missing = measured.get("missing") or {}
            open_approvals.append(
                {
                    "key": f.key,
                    "status": str(f.status),
                    "missing": [{"role": r, "count": int(n)} for r, n in sorted(missing.items())],
                    "detail": f.result.detail,
                }
            )
    active = []
    for w in evaluation.waivers:
        if w.status != "applied":
            continue
        active.append(
            {
                "id": w.waiver.id,
                "rules": list(w.rules),
                "approved_by": w.waiver.approved_by,
                "expires_at": _ts(w.waiver.expires_at),
                "justification": w.waiver.justification,
            }
        )
    return {
        **base,
        "packs": pack_rows,
        "blocking": [_finding_row(f) for f in findings if f.blocking],
        "waived": [_finding_row(f) for f in findings if str(f.status) == "waived"],
        "warnings": [_finding_row(f) for f in findings if f.warning],
        "errors": [_finding_row(f) for f in findings if str(f.status) == "error"],
        "active_waivers": sorted(active, key=lambda w: str(w["id"])),
        "open_approvals": open_approvals,
        "counts": evaluation.counts(),
        "total": len(findings),
    }

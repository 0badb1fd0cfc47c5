"""``ordinance demo``: the whole Ordinance story, end to end, in a fresh workspace on SQLite.

The demo builds two versions of a synthetic credit-risk model, registers both, and then
walks each capability as a named step. It leaves the workspace in ``DIR/.ordinance`` so that
every other command can be tried on it afterwards (``cd DIR && ordinance models``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ordinance.errors import InputError
from ordinance.workspace import HOME_DIRNAME, Workspace, init_workspace

Say = Callable[[str], None]


@dataclass
class DemoState:
    directory: Path
    ws: Workspace
    manifests: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)


def run_demo(directory: Path, *, rows: int = 4000, seed: int = 7, say: Say = print) -> DemoState:
    """Run every demo step; raise on the first step that does not behave as the story says."""
    home = directory / HOME_DIRNAME
    if home.exists():
        if not (home / "config.yaml").is_file():
            raise InputError(f"{home} exists but is not an Ordinance workspace; choose another --dir")
        shutil.rmtree(home)
    directory.mkdir(parents=True, exist_ok=True)
    ws = init_workspace(home, origin="ordinance.local/demo")
    state = DemoState(directory=directory, ws=ws)
    say(f"== Ordinance demo in {directory} (workspace {home}, SQLite)")
    try:
        for step in _steps():
            step(state, rows, seed, say)
    finally:
        ws.close()
    say(f"== done. Try: cd {directory} && ordinance models && ordinance show credit-risk@1.1.0")
    return state


def _steps() -> list[Callable[[DemoState, int, int, Say], None]]:
    return [
        step_generate,
        step_register,
        step_check,
        step_explain,
        step_promotions,
        step_verify_log,
        step_reports,
    ]


def step_generate(state: DemoState, rows: int, seed: int, say: Say) -> None:
    from ordinance.examples.credit_risk import write_version

    base = state.directory / "credit-risk"
    v1 = write_version(base / "v1.0.0", version="1.0.0", variant="proxy", rows=rows, seed=seed)
    v2 = write_version(
        base / "v1.1.0", version="1.1.0", variant="fair", rows=rows, seed=seed, parent="1.0.0"
    )
    state.manifests = {"1.0.0": v1.manifest, "1.1.0": v2.manifest}
    say(f"-- generated two versions of credit-risk under {base} (v1.0.0 uses a postcode proxy)")


def step_register(state: DemoState, rows: int, seed: int, say: Say) -> None:
    for manifest in state.manifests.values():
        res = state.ws.register(manifest)
        v = res.version
        say(
            f"-- registered {v.ref}: identity sha256:{v.identity.sha256[:16]}…, "
            f"{len(v.evidence)} evidence files, log entry {res.log_index}"
        )


def step_check(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """`ordinance check` for staging: 1.0.0 fails the fairness rule, 1.1.0 passes it."""
    from ordinance.policy import EvaluationContext, evaluate, load_packs
    from ordinance.promote import collect_inputs

    packs = load_packs(["ordinance:baseline"])
    ws = state.ws
    registry = ws.registry()
    now = datetime.now(UTC)
    verdicts = {}
    for version in state.manifests:
        v = registry.get_version("credit-risk", version)
        collected = collect_inputs(ws, v, "staging", now)
        ctx = EvaluationContext(
            now=now,
            evidence=ws.evidence,
            champion=registry.find_version_in_stage,
            approvals=collected.approvals,
            waivers=collected.waivers,
        )
        ev = evaluate(v, "staging", packs, ctx)
        index = ws.record_evaluation(ev)
        verdicts[version] = ev.verdict
        say(f"-- ordinance check {v.ref} --stage staging: {ev.verdict.upper()} (log entry {index})")
        for f in ev.findings:
            if f.spec.type == "fairness.threshold":
                say(f"     {f.status:<5} {f.spec.id}: {f.result.detail}")
    if verdicts.get("1.0.0") != "fail" or verdicts.get("1.1.0") == "fail":
        raise InputError(f"demo expected 1.0.0 to fail and 1.1.0 to pass, got {verdicts}")


def step_explain(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """Permutation importance for each version, attached as evidence bound to its identity."""
    from ordinance.metrics.explain import explain_version

    for version, manifest in state.manifests.items():
        result = explain_version(
            state.ws, f"credit-risk@{version}", manifest.parent / "test.csv", target="default"
        )
        out = state.directory / "explainability"
        json_path, svg_path = result.artifact.write(out, f"credit-risk-{version}")
        attrs = {"identity_sha256": result.identity_digest}
        res = state.ws.attach_evidence(
            "credit-risk", version, json_path, kind="explainability", attributes=attrs
        )
        state.ws.attach_evidence(
            "credit-risk", version, svg_path, kind="explainability_chart", attributes=attrs
        )
        top = max(result.artifact.data["features"], key=lambda f: f["importance_mean"])
        say(
            f"-- explain credit-risk@{version}: top feature {top['name']} "
            f"({top['importance_mean']:.3f}); attached, log entry {res.log_index}"
        )


def step_promotions(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """Blocked by policy → approved and promoted → emergency waiver → rollback."""
    from datetime import timedelta

    from ordinance.promote import promotion_story

    # The story's steps are an hour apart, ending now, so `ordinance history --at` works on it.
    promotion_story(
        state.ws,
        "credit-risk",
        "1.0.0",
        "1.1.0",
        keys_dir=state.directory / "keys",
        say=say,
        start=datetime.now(UTC) - timedelta(hours=7),
    )


def step_verify_log(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """Verify the whole signed log, export an offline bundle for an auditor."""
    from ordinance.approvals import roster_vkeys

    ws = state.ws
    log = ws.audit_log()
    report = log.verify(ws.vkey(), deep=True, entry_vkeys=roster_vkeys(ws))
    if not report.ok:
        raise InputError(f"demo log does not verify: {report.reason}")
    say(
        f"-- ordinance log verify --deep: OK, {report.size} entries, "
        f"{report.checkpoints_checked} checkpoints, root {report.root.hex()[:16]}…"
    )
    bundle = log.export(state.directory / "audit-bundle")
    state.outputs["bundle"] = bundle
    (state.directory / "log.vkey").write_text(ws.vkey() + "\n")
    say(
        f"-- exported {bundle}; an auditor runs: ordinance log verify --bundle {bundle} --vkey $(cat log.vkey)"
    )


def step_reports(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """Model card, compliance report and portfolio (HTML; PDF too when ordinance[pdf] is installed)."""
    import importlib.util

    from ordinance.report import render_card, render_portfolio, render_report

    out = state.directory / "reports"
    pdf = importlib.util.find_spec("weasyprint") is not None
    for fmt in ("md", "html", *(("pdf",) if pdf else ())):
        path = render_card(
            state.ws, "credit-risk", "1.1.0", fmt, out / f"credit-risk-1.1.0-card.{fmt}"
        )
        state.outputs[f"card-{fmt}"] = path
    for fmt in ("html", *(("pdf",) if pdf else ())):
        path = render_report(
            state.ws, "credit-risk", "1.1.0", fmt, out / f"credit-risk-1.1.0-report.{fmt}"
        )
        state.outputs[f"report-{fmt}"] = path
    state.outputs["portfolio-html"] = render_portfolio(state.ws, "html", out / "portfolio.html")
    if not pdf:
        say("-- (PDF skipped: install ordinance[pdf] for WeasyPrint)")
    say(f"-- model card, compliance report and portfolio written under {out}")

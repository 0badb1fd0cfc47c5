"""``ordinance demo``: the whole Ordinance story, end to end, in a fresh workspace on SQLite.

The demo builds two versions of a synthetic credit-risk model, registers both, and then
walks each capability as a named step. It leaves the workspace in ``DIR/.ordinance`` so that
every other command can be tried on it afterwards (``cd DIR && ordinance models``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ordinance.errors import InputError
from ordinance.workspace import HOME_DIRNAME, Workspace, init_workspace

if TYPE_CHECKING:
    from ordinance.promotion import PromotionDecision

Say = Callable[[str], None]
#: Every pack Ordinance ships, for the demo's full-scope report.
SHIPPED_PACKS: tuple[str, ...] = (
    "ordinance:baseline",
    "ordinance:eu-ai-act-high-risk",
    "ordinance:bank-model-risk",
    "ordinance:nist-ai-rmf",
)


#: The demo's approvers and their roles (the role names the shipped packs require).
DEMO_ROSTER: dict[str, str] = {
    "vera@bank.example": "model-validator",
    "rita@bank.example": "risk-officer",
}


@dataclass
class DemoState:
    directory: Path
    ws: Workspace
    manifests: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    #: the story's one clock: every signed time in the demo is this plus a step, in order
    start: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=8))


def run_demo(directory: Path, *, rows: int = 4000, seed: int = 7, say: Say = print) -> DemoState:
    """Run every demo step; raise on the first step that does not behave as the story says."""
    home = directory / HOME_DIRNAME
    if home.exists():
        if not (home / "config.yaml").is_file():
            raise InputError(
                f"{home} exists but is not an Ordinance workspace; choose another --dir"
            )
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
        step_reports,
        step_verify_log,
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
        res = state.ws.register(manifest, now=state.start)
        v = res.version
        say(
            f"-- registered {v.ref}: identity sha256:{v.identity.sha256[:16]}…, "
            f"{len(v.evidence)} evidence files, log entry {res.log_index}"
        )


def step_check(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """`ordinance check` for staging: 1.0.0 fails the fairness rule, 1.1.0 passes it."""
    ws = state.ws
    registry = ws.registry()
    gate = ws.gate()
    now = state.start + timedelta(minutes=10)
    verdicts = {}
    for version in state.manifests:
        v = registry.get_version("credit-risk", version)
        ev = gate.evaluate(v, "staging", now).evaluation
        if ev is None:
            raise InputError("the demo workspace has no policy for staging")
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
    # The story's steps are an hour apart, ending before now, so `ordinance history --at`
    # works on it; registration and the first checks came before them on the same clock.
    promotion_story(
        state.ws,
        "credit-risk",
        "1.0.0",
        "1.1.0",
        keys_dir=state.directory / "keys",
        say=say,
        start=state.start + timedelta(hours=1),
    )


def step_verify_log(state: DemoState, rows: int, seed: int, say: Say) -> None:
    """Verify the whole signed log (deep: approver keys come from the log's own roster),
    export an offline bundle for an auditor: last, so that it also vouches for the reports."""
    ws = state.ws
    log = ws.audit_log()
    report = log.verify(ws.vkey(), deep=True)
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
        f"-- exported {bundle}; an auditor runs: ordinance log verify --bundle {bundle} --vkey log.vkey --deep"
    )
    if "report-html" in state.outputs:
        say(
            f"-- and checks a report against it: ordinance report verify "
            f'{state.outputs["report-html"]} --bundle {bundle} --vkey "$(cat log.vkey)"'
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
        # the same version against every shipped pack: what the regulatory packs still need
        path = render_report(
            state.ws,
            "credit-risk",
            "1.1.0",
            fmt,
            out / f"credit-risk-1.1.0-all-packs.{fmt}",
            stage="production",
            packs=SHIPPED_PACKS,
        )
        state.outputs[f"report-all-packs-{fmt}"] = path
    state.outputs["portfolio-html"] = render_portfolio(state.ws, "html", out / "portfolio.html")
    if not pdf:
        say("-- (PDF skipped: install ordinance[pdf] for WeasyPrint)")
    say(f"-- model card, compliance report and portfolio written under {out}")


def promotion_story(
    ws: Workspace,
    model: str,
    blocked: str,
    fixed: str,
    *,
    keys_dir: Path,
    say: Say = print,
    start: datetime | None = None,
) -> list[PromotionDecision]:
    """The promotion story for ``ordinance demo`` (both versions registered beforehand).

    1. a roster of a validator and a risk officer (keys generated under ``keys_dir``);
    2. ``blocked`` → production: DENIED by policy (and no approvals);
    3. ``fixed`` approved by both, → production: PROMOTED;
    4. an emergency: ``blocked`` gets a signed, expiring waiver for its failing rules and
       two approvals, → production: PROMOTED, ``fixed`` is demoted;
    5. ``ordinance rollback`` to ``fixed``: PROMOTED again, ``blocked`` demoted;
    6. ``history --at`` answers which version was in production after each step.

    Returns the four decisions. Clocks are injected (``start`` + one hour per step).
    """
    from ordinance.approvals import Member, Roster, apply_roster, approve, waive
    from ordinance.promotion import promote, rollback
    from ordinance.signing import generate_key, load_signer
    from ordinance.stage_history import holder_at
    from ordinance.store._approval_tables import ts

    t0 = start or datetime.now(UTC)
    step = timedelta(hours=1)
    keys_dir.mkdir(parents=True, exist_ok=True)
    people = dict(DEMO_ROSTER)
    signers = {}
    for person in people:
        path = keys_dir / f"{person.split('@')[0]}.key"
        if not path.exists():
            generate_key(path, person)
        signers[person] = load_signer(path)
    roster = Roster(
        tuple(
            Member(id=p, roles=frozenset({role}), keys=(signers[p].verifier,))
            for p, role in people.items()
        )
    )
    change = apply_roster(ws, roster, actor="demo", now=t0)
    parts = ws.promotion()
    say(f"-- roster {change.digest[:12]}…: vera (model-validator), rita (risk-officer)")
    decisions: list[PromotionDecision] = []

    d1 = promote(parts, model, blocked, "production", "demo", now=t0 + step)
    decisions.append(d1)
    say(f"-- promote {model}@{blocked}: {d1.outcome.upper()}")
    for r in d1.reasons:
        say(f"     {r}")

    for person in people:
        approve(ws, model, fixed, "production", signers[person], "reviewed", now=t0 + 2 * step)
        say(f"-- {person} approved {model}@{fixed} for production (signed, logged)")
    d2 = promote(parts, model, fixed, "production", "demo", now=t0 + 3 * step)
    decisions.append(d2)
    say(f"-- promote {model}@{fixed}: {d2.outcome.upper()} (log entries {list(d2.log_indexes)})")

    failing = sorted({f.spec.id for f in (d1.evaluation.blocking if d1.evaluation else ())})
    for rule in failing:
        if rule.endswith("approval") or "approv" in rule:
            continue
        waive(
            ws,
            model,
            blocked,
            rule,
            "emergency: the incumbent scorer is needed while 1.1 is investigated",
            t0 + 3 * step + timedelta(days=7),
            signers["rita@bank.example"],
            stages=["production"],
            now=t0 + 4 * step,
        )
        say(f"-- rita signed a 7-day waiver of {rule} for {model}@{blocked}")
    for person in people:
        approve(ws, model, blocked, "production", signers[person], "emergency", now=t0 + 4 * step)
    d3 = promote(parts, model, blocked, "production", "demo", now=t0 + 5 * step)
    decisions.append(d3)
    say(
        f"-- promote {model}@{blocked} under waiver: {d3.outcome.upper()}"
        + (f"; {model}@{d3.demoted} → {d3.demote_to}" if d3.demoted else "")
    )

    d4 = rollback(parts, model, fixed, "demo", now=t0 + 6 * step)
    decisions.append(d4)
    say(
        f"-- rollback {model} to {fixed}: {d4.outcome.upper()}"
        + (f"; {model}@{d4.demoted} → {d4.demote_to}" if d4.demoted else "")
    )
    checkpoints = (
        ("before any promotion", t0 + 2 * step),
        (f"after promoting {fixed}", t0 + 3 * step),
        (f"after the emergency promotion of {blocked}", t0 + 5 * step),
        ("after the rollback", t0 + 6 * step),
    )
    for label, when in checkpoints:
        say(
            f"-- history --at {ts(when)} ({label}): production = {holder_at(ws, model, when) or 'none'}"
        )
    return decisions

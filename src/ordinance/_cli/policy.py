"""``ordinance check`` (the CI gate) and ``ordinance policy lint|explain|list``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from ordinance.errors import CheckFailed, InputError, OrdinanceError
from ordinance.model import parse_ref

from ._common import Ctx, emit_json, format_option, info, pass_ctx, write_output

CHECK_FORMATS = ("text", "json", "sarif", "junit", "github")
DEFAULT_PACKS = ("ordinance:baseline",)


@click.command()
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--stage", required=True, help="The target stage the version would move to.")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="PATH",
    help="A policy pack file or ordinance:NAME (repeatable). Default: the workspace's "
    "configured packs for the stage, else ordinance:baseline.",
)
@click.option("--waivers", type=click.Path(dir_okay=False), help="A waiver file (kind: Waivers).")
@format_option(*CHECK_FORMATS)
@click.option("--output", "-o", metavar="FILE", help="Write the report here instead of stdout.")
@click.option("--fail-on-warn", is_flag=True, help="Exit 1 when the verdict is warn.")
@pass_ctx
def check(
    obj: Ctx,
    ref: str,
    stage: str,
    policies: tuple[str, ...],
    waivers: str | None,
    fmt: str,
    output: str | None,
    fail_on_warn: bool,
) -> None:
    """Evaluate every applicable policy rule on MODEL@VERSION for a promotion to STAGE.

    Every rule is reported, passes included. Exit codes: 0 nothing blocks, 1 a blocking
    rule failed or errored (or a warning with --fail-on-warn), 2 bad input (unknown model,
    invalid policy or waiver file), 3 internal error.
    """
    from ordinance.policy import EvaluationContext, evaluate, load_packs, load_waivers, render
    from ordinance.policy.formats import render_markdown

    name, version = parse_ref(ref)
    if not name or not version:
        raise InputError(f"expected MODEL@VERSION, got {ref!r}")
    if obj.remote is not None:
        _remote_check(obj, name, version, stage, policies, waivers, fmt, output, fail_on_warn)
        return
    ws = obj.workspace()
    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}: one of {', '.join(ws.config.stages)}")
    if policies:
        packs = load_packs(policies, base=Path.cwd())
    else:
        configured = ws.config.policies.get(stage) or list(DEFAULT_PACKS)
        packs = load_packs(configured, base=ws.home)
    file_waivers = load_waivers(Path(waivers)) if waivers else ()
    registry = ws.registry()
    target = registry.get_version(name, version)
    now = datetime.now(UTC)
    # The same verified approvals and signed waivers a promotion would see.
    from ordinance.gate import collect_inputs

    collected = collect_inputs(ws, target, stage, now)
    ctx = EvaluationContext(
        now=now,
        evidence=ws.evidence,
        champion=registry.find_version_in_stage,
        approvals=collected.approvals,
        waivers=(*collected.waivers, *file_waivers),
    )
    evaluation = evaluate(target, stage, packs, ctx)
    write_output(render(evaluation, fmt), output)
    if fmt == "github":
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(render_markdown(evaluation) + "\n")
    ws.record_evaluation(evaluation)
    counts = evaluation.counts()
    if fmt != "text" or output:
        info(
            f"{target.ref} → {stage}: {evaluation.verdict} "
            f"({', '.join(f'{n} {s}' for s, n in counts.items() if n)})"
        )
    if evaluation.verdict == "fail":
        ids = ", ".join(f.key for f in evaluation.blocking)
        raise CheckFailed(f"{target.ref} may not move to {stage}: blocked by {ids}")
    if evaluation.verdict == "warn" and fail_on_warn:
        ids = ", ".join(f.key for f in evaluation.findings if f.warning)
        raise CheckFailed(f"{target.ref} → {stage}: warnings ({ids}) and --fail-on-warn")


def _remote_check(
    obj: Ctx,
    name: str,
    version: str,
    stage: str,
    policies: tuple[str, ...],
    waivers: str | None,
    fmt: str,
    output: str | None,
    fail_on_warn: bool,
) -> None:
    """``check`` against the server: the server evaluates its configured packs for the
    stage (the ones a promotion applies) and records the evaluation; the report is the
    same text a local run prints."""
    if policies or waivers:
        raise InputError(
            "--policy and --waivers are not taken in server mode: the server applies the packs "
            "configured for the stage and the signed waivers it holds"
        )
    assert obj.remote is not None
    r = obj.remote.check(name, version, stage, fmt)
    write_output(r["output"], output)
    if fmt == "github":
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(r["markdown"] + "\n")
    if fmt != "text" or output:
        info(
            f"{r['ref']} → {stage}: {r['verdict']} "
            f"({', '.join(f'{n} {s}' for s, n in r['counts'].items() if n)})"
        )
    if r["verdict"] == "fail":
        raise CheckFailed(f"{r['ref']} may not move to {stage}: blocked by {', '.join(r['blocking'])}")
    if r["verdict"] == "warn" and fail_on_warn:
        raise CheckFailed(
            f"{r['ref']} → {stage}: warnings ({', '.join(r['warnings'])}) and --fail-on-warn"
        )


@click.group()
def policy() -> None:
    """Policy packs: lint, explain, list the shipped ones."""


@policy.command("lint")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@format_option("text", "json")
def lint(paths: tuple[str, ...], fmt: str) -> None:
    """Load each pack (or ordinance:NAME) and report every problem as file:line:col."""
    from ordinance.policy import load_pack

    results = []
    for p in paths:
        try:
            pack = load_pack(p)
        except OrdinanceError as exc:
            results.append({"path": p, "ok": False, "error": exc.message})
            if fmt == "text":
                click.echo(f"ordinance: error: {exc.message}", err=True)
            continue
        notes = [f"rule {r.id} has no references" for r in pack.rules if not r.references]
        results.append(
            {
                "path": p,
                "ok": True,
                "name": pack.name,
                "version": pack.version,
                "rules": len(pack.rules),
                "sha256": pack.sha256,
                "notes": notes,
            }
        )
        if fmt == "text":
            click.echo(f"ok  {p}: {pack.name} {pack.version}, {len(pack.rules)} rules")
            for n in notes:
                click.echo(f"    note: {n}")
    if fmt == "json":
        emit_json(results)
    bad = sum(1 for r in results if not r["ok"])
    if bad:
        raise InputError(f"{bad} of {len(paths)} policy files have errors")


@policy.command("explain")
@click.argument("path")
def explain(path: str) -> None:
    """The pack's rules in plain sentences, for a reviewer."""
    from ordinance.policy import explain_pack, load_pack

    click.echo(explain_pack(load_pack(path)), nl=False)


@policy.command("list")
@format_option("text", "json")
def list_packs(fmt: str) -> None:
    """The policy packs Ordinance ships (use them as ordinance:NAME)."""
    from ordinance.policy import load_pack, shipped_packs

    rows = []
    for name in shipped_packs():
        pack = load_pack(f"ordinance:{name}")
        rows.append(
            {
                "name": f"ordinance:{name}",
                "version": pack.version,
                "rules": len(pack.rules),
                "frameworks": list(pack.frameworks),
                "description": pack.description,
            }
        )
    if fmt == "json":
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']:<28} {r['version']:<8} {r['rules']:>3} rules  {r['description']}")


def register(cli: click.Group) -> None:
    """Add ``check`` and ``policy`` to ``cli``."""
    cli.add_command(check)
    cli.add_command(policy)

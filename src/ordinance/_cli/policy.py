"""``ordinance check`` (the CI gate) and ``ordinance policy lint|explain|list``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ordinance.errors import CheckFailed, InputError, OrdinanceError
from ordinance.model import parse_ref

from ._common import Ctx, emit_json, format_option, info, pass_ctx, write_output

if TYPE_CHECKING:
    from ordinance.signing import Envelope

CHECK_FORMATS = ("text", "json", "sarif", "junit", "github")


def _signed_waivers(path: Path) -> list[Envelope]:
    """Signed waiver envelopes from a JSON file (one DSSE envelope or a list of them).

    A plain waiver file (``kind: Waivers``) is refused: its ``approved_by`` is text anyone
    can type, not a signature.
    """
    from ordinance._files import DOCUMENT_LIMIT, read_limited
    from ordinance.signing import Envelope

    raw = read_limited(path, DOCUMENT_LIMIT)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    items = data if isinstance(data, list) else [data]
    if data is None or not all(isinstance(i, dict) and "signatures" in i for i in items):
        raise InputError(
            f"{path}: not a signed waiver: only DSSE-signed waivers count (a plain `kind: "
            "Waivers` file's approved_by is not a signature); sign one with `ordinance waive` "
            "(recorded waivers apply to every check and promotion without --waivers)"
        )
    return [Envelope.from_dict(i) for i in items]


@click.command()
@click.argument("ref", metavar="MODEL@VERSION")
@click.option("--stage", required=True, help="The target stage the version would move to.")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="PATH",
    help="Evaluate these packs (a file or ordinance:NAME, repeatable) instead of the stage's "
    "configured ones: an ad-hoc check that predicts nothing about a promotion.",
)
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signed waiver envelopes (JSON) not yet recorded; verified like recorded ones.",
)
@click.option("--dry-run", is_flag=True, help="Evaluate without recording the evaluation.")
@format_option(*CHECK_FORMATS)
@click.option(
    "--out", "-o", "output", metavar="FILE", help="Write the report to this file instead of stdout."
)
@click.option("--fail-on-warn", is_flag=True, help="Exit 1 when the verdict is warn.")
@pass_ctx
def check(
    obj: Ctx,
    ref: str,
    stage: str,
    policies: tuple[str, ...],
    waivers: Path | None,
    dry_run: bool,
    fmt: str,
    output: str | None,
    fail_on_warn: bool,
) -> None:
    """Ask the gate whether MODEL@VERSION may move to STAGE: the same decision `ordinance
    promote --to STAGE` takes (same packs, signed approvals and waivers, same verdict).

    Every rule is reported, passes included. A stage with no policy configured is reported
    as unguarded (an exclusive stage as closed). The evaluation is recorded in the log unless
    --dry-run. Exit codes: 0 nothing blocks, 1 blocked (or a warning with --fail-on-warn),
    2 bad input, 3 internal error (or the workspace cannot log).
    """
    from ordinance.policy import load_packs, render
    from ordinance.policy.formats import render_markdown

    name, version = parse_ref(ref)
    if not name or not version:
        raise InputError(f"expected MODEL@VERSION, got {ref!r}")
    if obj.remote is not None:
        _remote_check(obj, name, version, stage, policies, waivers, fmt, output, fail_on_warn)
        return
    ws = obj.workspace()
    if not dry_run:
        ws.require_log("record the check (use --dry-run to evaluate without recording)")
    adhoc = load_packs(policies, base=Path.cwd()) if policies else None
    signed = _signed_waivers(waivers) if waivers else []
    target = ws.registry().get_version(name, version)
    now = datetime.now(UTC)
    result = ws.gate().evaluate(target, stage, now, signed_waivers=signed, packs=adhoc)
    evaluation = result.evaluation
    if evaluation is None:
        if fmt == "json":
            write_output(json.dumps(result.to_dict(), indent=2) + "\n", output)
        elif fmt == "text":
            lines = [result.summary(), *(f"  - {r}" for r in result.reasons)]
            write_output("\n".join(lines) + "\n", output)
        else:
            raise InputError(
                f"{result.policy.describe()}: there are no rule results to render as {fmt}"
            )
    else:
        write_output(render(evaluation, fmt), output)
        if fmt == "github":
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with open(summary, "a", encoding="utf-8") as f:
                    f.write(render_markdown(evaluation) + "\n")
        if dry_run:
            info("dry run: the evaluation was not recorded")
        else:
            ws.record_evaluation(evaluation)
    if adhoc is not None:
        info("ad-hoc packs (--policy): this result does not predict `ordinance promote`")
    if fmt != "text" or output:
        info(result.summary())
    for note in result.notes:
        info(note)
    if result.verdict == "fail":
        if evaluation is not None and evaluation.blocking:
            why = "blocked by " + ", ".join(f.key for f in evaluation.blocking)
        else:
            why = "; ".join(result.reasons)
        raise CheckFailed(f"{target.ref} may not move to {stage}: {why}")
    if result.verdict == "warn" and fail_on_warn and evaluation is not None:
        ids = ", ".join(f.key for f in evaluation.findings if f.warning)
        raise CheckFailed(f"{target.ref} → {stage}: warnings ({ids}) and --fail-on-warn")


def _remote_check(
    obj: Ctx,
    name: str,
    version: str,
    stage: str,
    policies: tuple[str, ...],
    waivers: Path | None,
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
        why = (
            f"blocked by {', '.join(r['blocking'])}"
            if r["blocking"]
            else "; ".join(r.get("reasons") or ["blocked"])
        )
        raise CheckFailed(f"{r['ref']} may not move to {stage}: {why}")
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
    from ordinance.policy.references import check_reference

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
        notes += [
            f"rule {r.id}: {why}"
            for r in pack.rules
            for ref in r.references
            if (why := check_reference(ref)) is not None
        ]
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
@format_option("text", "json")
def explain(path: str, fmt: str) -> None:
    """The pack's rules in plain sentences, for a reviewer."""
    from ordinance.policy import explain_pack, load_pack

    pack = load_pack(path)
    text = explain_pack(pack)
    if fmt == "json":
        emit_json(
            {
                "name": pack.name,
                "version": pack.version,
                "sha256": pack.sha256,
                "rules": [
                    {
                        "id": r.id,
                        "type": r.type,
                        "severity": r.severity,
                        "message": r.message,
                        "references": list(r.references),
                    }
                    for r in pack.rules
                ],
                "text": text,
            }
        )
        return
    click.echo(text, nl=False)


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

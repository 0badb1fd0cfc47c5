"""``ordinance card``, ``ordinance report`` (a version, ``portfolio``, or ``verify FILE``) and
``ordinance publish``. Every document written is recorded in the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from ordinance.errors import InputError
from ordinance.model import parse_ref

from ._common import Ctx, emit_json, format_option, info, pass_ctx, progress

_TEMPLATES = click.option(
    "--templates",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of Jinja2 templates overriding the shipped ones (same file names).",
)
_OUT = click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: stdout; required for pdf).",
)


def _ref(ref: str) -> tuple[str, str | None]:
    model, version = parse_ref(ref)
    if not model:
        raise InputError(f"bad reference {ref!r}: use MODEL@VERSION (or MODEL for the latest)")
    return model, version


def _emit(data: bytes, out: Path | None, fmt: str) -> None:
    if out is None or str(out) == "-":
        if fmt == "pdf":
            raise InputError("PDF output needs --out FILE")
        click.echo(data.decode("utf-8"), nl=False)
        return
    from ordinance._files import atomic_write_bytes

    atomic_write_bytes(out, data)
    info(f"wrote {out}")


def _render(
    obj: Ctx,
    renderer: Any,
    document: str,
    fmt: str,
    context: Any,
    out: Path | None,
    templates: Path | None,
) -> None:
    """Render, write, warn about glyphs no font covers, and log the rendering."""
    from ordinance.report import record_output

    if fmt == "pdf" and (out is None or str(out) == "-"):
        raise InputError("PDF output needs --out FILE")
    data = renderer.render(document, context)
    for warning in getattr(renderer, "layout_warnings", ()):
        info(f"warning: {warning}")
    _emit(data, out, fmt)
    index = record_output(obj.workspace(), document, fmt, context, data, templates=templates)
    if index is not None:
        info(f"recorded the rendering as log entry {index}: `ordinance report verify FILE`")


def _remote_render(
    obj: Ctx, out: Path | None, fmt: str, templates: Path | None, **body: Any
) -> None:
    """The server renders with its own templates from its facts, and logs the rendering."""
    if templates is not None:
        raise InputError(
            "--templates is not available in server mode: the server renders with its own "
            "templates (render custom ones on the server's workspace)"
        )
    if fmt == "pdf" and (out is None or str(out) == "-"):
        raise InputError("PDF output needs --out FILE")
    assert obj.remote is not None
    data, index = obj.remote.render(format=fmt, **body)
    _emit(data, out, fmt)
    if index is not None:
        info(f"recorded the rendering as log entry {index}: `ordinance report verify FILE`")


def _progress(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
    return progress(items, total, label)


def register(cli: click.Group) -> None:
    @cli.command("card")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["md", "html", "pdf", "json"]),
        default="md",
        show_default=True,
        help="md carries Hugging Face front matter; pdf needs ordinance[pdf].",
    )
    @_OUT
    @_TEMPLATES
    @click.option(
        "--public",
        is_flag=True,
        help="For publishing outside the organisation: leave out e-mail addresses, internal "
        "URLs, run ids and signer identities.",
    )
    @pass_ctx
    def card_cmd(
        obj: Ctx, ref: str, fmt: str, out: Path | None, templates: Path | None, public: bool
    ) -> None:
        """Write the model card of MODEL@VERSION: model details, intended use, factors,
        metrics, data, quantitative analyses (fairness by group and intersectionally, with
        charts), ethical considerations, caveats, lineage and governance status."""
        from ordinance.report import build_document, get_renderer

        model, version = _ref(ref)
        if obj.remote is not None:
            _remote_render(
                obj,
                out,
                fmt,
                templates,
                document="card",
                model=model,
                version=version,
                public=public,
            )
            return
        renderer = get_renderer(fmt, templates=templates)
        context = build_document(
            obj.workspace(), "card", model=model, version=version, public=public
        )
        _render(obj, renderer, "card", fmt, context, out, templates)

    @cli.command("report")
    @click.argument("ref", metavar="MODEL@VERSION|portfolio|verify")
    @click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["html", "pdf", "json"]),
        default="html",
        show_default=True,
        help="pdf needs ordinance[pdf].",
    )
    @_OUT
    @click.option(
        "--stage",
        help="The stage the report judges (default: the latest evaluation's, else the next stage).",
    )
    @click.option(
        "--pack",
        "packs",
        multiple=True,
        metavar="REF",
        help="Evaluate these packs instead of those configured for the stage (repeatable), "
        "e.g. --pack ordinance:eu-ai-act-high-risk.",
    )
    @click.option(
        "--since", metavar="DATE", help="portfolio: transitions from this date (ISO 8601)."
    )
    @click.option(
        "--until", metavar="DATE", help="portfolio: up to this date; also the 'as of' time."
    )
    @_TEMPLATES
    @click.option("--vkey", help="verify: the log's verifier key (default: the workspace's).")
    @click.option(
        "--bundle",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help="verify: check against an exported log bundle (offline; needs --vkey).",
    )
    @click.option(
        "--allow-custom-templates",
        is_flag=True,
        help="verify: accept a document rendered with --templates (it is still logged).",
    )
    @pass_ctx
    def report_cmd(
        obj: Ctx,
        ref: str,
        file: Path | None,
        fmt: str,
        out: Path | None,
        stage: str | None,
        packs: tuple[str, ...],
        since: str | None,
        until: str | None,
        templates: Path | None,
        vkey: str | None,
        bundle: Path | None,
        allow_custom_templates: bool,
    ) -> None:
        """Write a compliance report for MODEL@VERSION, or the portfolio report; or check
        that a report or card FILE is one the audit log vouches for.

        \b
        ordinance report credit-risk@1.1.0 --format pdf --out report.pdf
        ordinance report credit-risk@1.1.0 --pack ordinance:eu-ai-act-high-risk --out r.html
        ordinance report portfolio --since 2026-01-01 --format html --out portfolio.html
        ordinance report verify report.pdf --vkey "$(cat log.vkey)"
        ordinance report verify report.pdf --bundle audit-bundle --vkey "$(cat log.vkey)"

        Every document written is recorded in the log (its digest and what it was built
        from). `verify` exits 0 when the log vouches for FILE exactly as it is, and 1 when it
        does not (edited, rendered with custom templates, or never logged).

        A version's report starts with its scope: every pack governing the stage (or each
        --pack) evaluated at the report's signed reference time, with its verdict, the blocking
        failures, waived failures, active waivers and open approvals. Then the validation
        summary (SR 11-7 structure), outcomes analysis (AUC/Gini, KS, calibration, bootstrap
        intervals), sensitivity, limitations, findings register, EU AI Act Annex IV coverage
        with the evidence for each item, every rule, waivers, approvals and transitions with
        signed identities, fairness, explainability, the signed audit trail, and the
        checkpoint it was built from with the command that verifies it. The portfolio report lists every
        model and stage, failing and warning rules, waivers expiring soon, overdue
        revalidations, transitions in the period and EU AI Act Annex IV coverage.
        """
        from ordinance.report import build_document, build_report_context, get_renderer

        if ref == "verify":
            if file is None:
                raise InputError("usage: ordinance report verify FILE [--vkey VKEY]")
            from ordinance.report.binding import verify_document, verify_document_in_bundle

            if bundle is None and obj.remote is not None:
                # server mode: the server's log as a bundle, verified here against a key the
                # caller trusts, never the server's word
                import os
                import tempfile

                tmp = tempfile.TemporaryDirectory(prefix="ordinance-bundle-")
                obj.cleanup.append(tmp.cleanup)
                bundle = obj.remote.bundle(Path(tmp.name) / "bundle")
                vkey = vkey or os.environ.get("ORDINANCE_LOG_VKEY")
            if bundle is not None:
                if vkey is None:
                    raise InputError(
                        "no trusted log key: pass --vkey (or set ORDINANCE_LOG_VKEY) to the "
                        "log's verifier key obtained out of band"
                    )
                result = verify_document_in_bundle(
                    bundle, file, vkey=vkey, allow_custom_templates=allow_custom_templates
                )
            else:
                result = verify_document(
                    obj.workspace(), file, vkey=vkey, allow_custom_templates=allow_custom_templates
                )
            if fmt == "json":
                emit_json(result.to_dict())
            else:
                subject = f"{result.model}@{result.version}" if result.model else result.document
                info(
                    f"OK: {file} (sha256:{result.sha256[:16]}…) is the {result.format} "
                    f"{result.document} of {subject} rendered {result.rendered_at}, logged as "
                    f"entry {result.log_index}, included in the checkpoint of size "
                    f"{result.checkpoint_size} signed by the verifier key"
                    + ("; its embedded JSON record matches" if result.embedded_record else "")
                )
            return
        if file is not None:
            raise InputError(f"unexpected argument {str(file)!r}")
        if obj.remote is not None:
            if ref == "portfolio":
                if stage is not None or packs:
                    raise InputError(
                        "--stage and --pack apply to a version's report, not the portfolio"
                    )
                _remote_render(
                    obj, out, fmt, templates, document="portfolio", since=since, until=until
                )
                return
            if since or until:
                raise InputError("--since/--until apply to `ordinance report portfolio` only")
            model, version = _ref(ref)
            _remote_render(
                obj,
                out,
                fmt,
                templates,
                document="report",
                model=model,
                version=version,
                stage=stage,
                packs=list(packs),
            )
            return
        renderer = get_renderer(fmt, templates=templates)
        ws = obj.workspace()
        if ref == "portfolio":
            if stage is not None or packs:
                raise InputError(
                    "--stage and --pack apply to a version's report, not the portfolio"
                )
            from ordinance.approvals import parse_when

            lo = parse_when(since, end_of_day=False) if since else None
            hi = parse_when(until) if until else None
            context = build_document(ws, "portfolio", since=lo, until=hi, progress=_progress)
            _render(obj, renderer, "portfolio", fmt, context, out, templates)
            return
        if since or until:
            raise InputError("--since/--until apply to `ordinance report portfolio` only")
        model, version = _ref(ref)
        context = build_report_context(ws, model, version, stage=stage, packs=packs or None)
        _render(obj, renderer, "report", fmt, context, out, templates)

    @cli.command("publish")
    @click.option(
        "--out",
        "-o",
        "out_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory for the static site (index.html and one page per model).",
    )
    @_TEMPLATES
    @format_option("text", "json")
    @pass_ctx
    def publish_cmd(obj: Ctx, out_dir: Path, templates: Path | None, fmt: str) -> None:
        """Publish a static catalog of model cards: an index and one self-contained page per
        model (its production version, else staging, else the newest)."""
        from ordinance.report import publish_catalog

        if obj.remote is not None:
            if templates is not None:
                raise InputError(
                    "--templates is not available in server mode: the server renders with its "
                    "own templates (publish custom ones from the server's workspace)"
                )
            written = obj.remote.publish(out_dir)
        else:
            written = publish_catalog(
                obj.workspace(), out_dir, templates=templates, progress=_progress
            )
        info(f"wrote {len(written)} files to {out_dir}")
        if fmt == "json":
            emit_json({"out": str(out_dir), "files": [str(p) for p in written]})

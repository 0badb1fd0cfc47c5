"""Model cards, compliance reports, portfolio reports and a static catalog.

Two layers:

* **Context building** (:mod:`ordinance.report.context`): pure data from the workspace,
  deterministic (no wall clock, everything sorted). Usable on its own, e.g. to put fairness
  results into another tool's card.
* **Renderers** behind one small interface (:class:`Renderer`): ``html``, ``pdf``
  (WeasyPrint, optional extra), ``md`` (model card with Hugging Face front matter) and
  ``json``. Only renderer modules import Jinja2 or WeasyPrint, and only when called.

The ``render_*`` functions below build a context, render it, write the file atomically
and record the rendering in the audit log (the output's digest and everything it was built
from, see :mod:`ordinance.report.binding`), so that ``ordinance report verify FILE`` can
tell a document the log vouches for from one that was edited or rendered elsewhere. They
return the path written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ordinance.errors import InputError
from ordinance.report._base import DOCUMENTS, Renderer
from ordinance.report.context import (
    ProgressHook,
    build_card_context,
    build_catalog_context,
    build_portfolio_context,
    build_report_context,
    page_name,
)

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = [
    "CARD_FORMATS",
    "DOCUMENTS",
    "REPORT_FORMATS",
    "Renderer",
    "build_card_context",
    "build_catalog_context",
    "build_document",
    "build_portfolio_context",
    "build_report_context",
    "get_renderer",
    "publish_catalog",
    "record_output",
    "render_card",
    "render_document",
    "render_portfolio",
    "render_report",
]

CARD_FORMATS: tuple[str, ...] = ("md", "html", "pdf", "json")
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "json")


def get_renderer(fmt: str, *, templates: Path | None = None) -> Renderer:
    """The renderer for an output format (``html``, ``pdf``, ``md``, ``json``)."""
    if fmt == "html":
        from ordinance.report.html import HtmlRenderer

        return HtmlRenderer(templates)
    if fmt == "pdf":
        from ordinance.report.pdf import PdfRenderer

        return PdfRenderer(templates)
    if fmt == "md":
        from ordinance.report.card import MarkdownRenderer

        return MarkdownRenderer(templates)
    if fmt == "json":
        from ordinance.report.card import JsonRenderer

        return JsonRenderer()
    raise InputError(f"unknown report format {fmt!r}: one of html, pdf, md, json")


def render_document(
    document: str, context: Mapping[str, Any], fmt: str, *, templates: Path | None = None
) -> bytes:
    """Render a context built by one of the ``build_*_context`` functions."""
    renderer = get_renderer(fmt, templates=templates)
    if document not in renderer.documents:
        raise InputError(f"a {document} cannot be rendered as {fmt}")
    return renderer.render(document, context)


def build_document(
    ws: Workspace,
    document: str,
    *,
    model: str = "",
    version: str | None = None,
    stage: str | None = None,
    packs: Sequence[str] | None = None,
    public: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: ProgressHook | None = None,
) -> dict[str, Any]:
    """The context of a model card (``public``: for outside the organisation), a version's
    compliance report (``stage``, ``packs``) or the portfolio (``since``, ``until``), as
    :func:`render_document` renders it."""
    if document == "portfolio":
        if since is not None and until is not None and since > until:
            raise InputError("--since is after --until")
        return build_portfolio_context(ws, since=since, until=until, progress=progress)
    if document == "card":
        context = build_card_context(ws, model, version)
        if public:
            from ordinance.report.hub import public_context

            context = public_context(context)
        return context
    if document == "report":
        return build_report_context(ws, model, version, stage=stage, packs=packs)
    raise InputError(f"no such document {document!r}: card, report or portfolio")


def _write(path: Path, data: bytes) -> Path:
    from ordinance._files import atomic_write_bytes

    atomic_write_bytes(path, data)
    return path


def record_output(
    ws: Workspace,
    document: str,
    fmt: str,
    context: Mapping[str, Any],
    data: bytes,
    *,
    templates: Path | None = None,
    now: datetime | None = None,
) -> int | None:
    """Log that ``data`` was rendered from ``context`` (``None`` when there is no log)."""
    from datetime import UTC

    from ordinance.report.binding import make_record, record_rendering

    record = make_record(document, fmt, context, data, templates)
    return record_rendering(ws, record, now or datetime.now(UTC))


def _render_and_record(
    ws: Workspace,
    renderer: Renderer,
    document: str,
    fmt: str,
    context: Mapping[str, Any],
    out: Path,
    templates: Path | None,
    record: bool,
) -> Path:
    data = renderer.render(document, context)
    _write(out, data)
    if record:
        record_output(ws, document, fmt, context, data, templates=templates)
    return out


def render_card(
    ws: Workspace,
    model: str,
    version: str | None,
    fmt: str,
    out: Path,
    *,
    templates: Path | None = None,
    public: bool = False,
    record: bool = True,
) -> Path:
    """Write the model card of ``model@version`` (latest if ``None``) as ``fmt`` to ``out``;
    ``public`` leaves out e-mails, internal URLs, run ids and signer identities."""
    if fmt not in CARD_FORMATS:
        raise InputError(f"model cards come as {', '.join(CARD_FORMATS)}, not {fmt!r}")
    renderer = get_renderer(fmt, templates=templates)  # fail early on a missing extra
    context = build_document(ws, "card", model=model, version=version, public=public)
    return _render_and_record(ws, renderer, "card", fmt, context, out, templates, record)


def render_report(
    ws: Workspace,
    model: str,
    version: str | None,
    fmt: str,
    out: Path,
    *,
    stage: str | None = None,
    packs: Sequence[str] | None = None,
    templates: Path | None = None,
    record: bool = True,
) -> Path:
    """Write the compliance report of ``model@version`` as ``fmt`` to ``out``: the packs
    governing ``stage`` (or ``packs``) evaluated at the report's signed reference time."""
    if fmt not in REPORT_FORMATS:
        raise InputError(f"compliance reports come as {', '.join(REPORT_FORMATS)}, not {fmt!r}")
    renderer = get_renderer(fmt, templates=templates)
    context = build_document(ws, "report", model=model, version=version, stage=stage, packs=packs)
    return _render_and_record(ws, renderer, "report", fmt, context, out, templates, record)


def render_portfolio(
    ws: Workspace,
    fmt: str,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    templates: Path | None = None,
    progress: ProgressHook | None = None,
    record: bool = True,
) -> Path:
    """Write the portfolio report (every model) as ``fmt`` to ``out``."""
    if fmt not in REPORT_FORMATS:
        raise InputError(f"portfolio reports come as {', '.join(REPORT_FORMATS)}, not {fmt!r}")
    renderer = get_renderer(fmt, templates=templates)
    context = build_document(ws, "portfolio", since=since, until=until, progress=progress)
    return _render_and_record(ws, renderer, "portfolio", fmt, context, out, templates, record)


def publish_catalog(
    ws: Workspace,
    out_dir: Path,
    *,
    templates: Path | None = None,
    progress: ProgressHook | None = None,
    record: bool = True,
) -> list[Path]:
    """A static site: ``index.html`` (every model and version, verdicts, search and filters),
    one card page per model (its current version: the production holder, else staging,
    else the newest), one card page per version and the compliance report of each current
    version. Every page is recorded in the log. Returns the files written."""
    from ordinance.report.context import report_page_name
    from ordinance.report.html import HtmlRenderer

    renderer = HtmlRenderer(templates)
    written: list[Path] = []

    def put(name: str, document: str, context: Mapping[str, Any]) -> None:
        written.append(
            _render_and_record(
                ws, renderer, document, "html", context, out_dir / name, templates, record
            )
        )

    index = build_catalog_context(ws)
    put("index.html", "catalog", index)
    items: Any = index["models"]
    if progress is not None:
        items = progress(index["models"], len(index["models"]), "publish")
    back = {"catalog": {"index": "index.html"}}
    for entry in items:
        for row in entry["versions"]:
            context = {**build_card_context(ws, entry["name"], row["version"]), **back}
            if row["current"]:
                put(page_name(entry["name"]), "card", context)
            put(row["card_href"], "card", context)
        report = build_report_context(ws, entry["name"], entry["version"])
        put(report_page_name(entry["name"]), "report", {**report, **back})
    return written

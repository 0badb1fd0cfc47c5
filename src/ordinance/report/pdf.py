"""PDF rendering with WeasyPrint (the optional ``ordinance[pdf]`` extra).

The PDF is the HTML document laid out for print by the same stylesheet: a first page, a
table of contents with page numbers (``target-counter``), running headers (``string-set``)
and page numbers. WeasyPrint is imported lazily; without it, rendering raises one
:class:`~ordinance.errors.MissingExtraError` saying what to install.

Archival and accessible:

* **PDF/A-3b** (``pdf_variant="pdf/a-3b"``: XMP identification ``pdfaid:part=3``,
  ``conformance=B``, an sRGB output intent) with the document's JSON record embedded as an
  associated file (``ordinance-record.json``, ``AFRelationship /Data``), so the numbers
  travel with the pages and ``ordinance report verify`` can check them against the log;
* **tagged** (a structure tree from the HTML, ``/MarkInfo /Marked true``, the document
  language, the title displayed) and identified as PDF/UA-1 in the XMP
  (``pdfuaid:part=1``).

Fonts: the stylesheet prefers installed Noto fonts; :func:`missing_glyphs` names characters
no installed font covers, so a box in print comes with a warning saying which.

Safety and reproducibility:

* The URL fetcher refuses every URL that is not ``data:``: rendering never touches the
  network or the file system, whatever a template or model data contains.
* The PDF's creation and modification dates come from the document's ``date`` (a record's
  time, not the wall clock); the file identifier derives from the HTML; embedded font
  subsets get a fixed timestamp (``SOURCE_DATE_EPOCH``), so the same records give the same
  PDF bytes.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from ordinance.errors import InfrastructureError, MissingExtraError
from ordinance.report.html import HtmlRenderer

__all__ = ["PdfRenderer", "load_weasyprint", "missing_glyphs"]

_PDFUA_XMP = (
    b'<rdf:Description xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" rdf:about="">'
    b"<pdfuaid:part>1</pdfuaid:part></rdf:Description>"
)
#: Font families the stylesheet asks for, in its order (see report.css).
FONT_FAMILIES: tuple[str, ...] = (
    "Noto Sans",
    "DejaVu Sans",
    "Noto Sans Mono",
    "DejaVu Sans Mono",
    "Noto Sans CJK SC",
    "Noto Color Emoji",
    "Noto Emoji",
)


def load_weasyprint() -> ModuleType:
    """Import WeasyPrint, or say how to install it.

    WeasyPrint 70 warns (``DeprecationWarning``) at import when the system lacks the
    HarfBuzz subsetting library and falls back to fontTools; that is a packaging notice, not
    a problem with the document, so it is silenced here and only here.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"weasyprint")
            warnings.filterwarnings("ignore", message=r".*HarfBuzz.*")
            import weasyprint as module
    except ImportError:
        raise MissingExtraError("pdf", "weasyprint") from None
    except OSError as exc:  # the Pango/HarfBuzz system libraries are missing
        raise InfrastructureError(
            f"WeasyPrint is installed but cannot load its system libraries ({exc}); "
            "see https://doc.courtbouillon.org/weasyprint/stable/first_steps.html"
        ) from None
    loaded: ModuleType = module
    return loaded


def _fetcher_class(wp: ModuleType) -> type:
    base: type = wp.urls.URLFetcher

    class LocalOnlyFetcher(base):  # type: ignore[misc]
        """Serves ``data:`` URLs only; every other URL is refused and remembered."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols=("data",), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                self.refused.append(url)
                raise ValueError(f"Ordinance reports never fetch URLs (refused {url[:80]!r})")
            return super().fetch(url, headers)

    return LocalOnlyFetcher


def _epoch(date: str | None) -> int:
    if not date:
        return 0
    try:
        t = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return 0
    t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return max(int(t.timestamp()), 0)


@contextmanager
def _source_date_epoch(epoch: int) -> Iterator[None]:
    """fontTools stamps subset fonts with ``SOURCE_DATE_EPOCH`` when set (else the clock)."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    if old is None:
        os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)


@lru_cache(maxsize=1)
def _font_cmaps() -> tuple[tuple[str, frozenset[int]], ...]:
    """(family, code points) of each installed font family the stylesheet names."""
    import shutil
    import subprocess

    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return ()
    try:
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a WeasyPrint dependency
        return ()
    out = []
    for family in FONT_FAMILIES:
        try:
            found = subprocess.run(
                [fc_match, "-f", "%{family}\n%{file}\n%{index}", family],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            continue
        if len(found) < 3 or family not in found[0].split(","):
            continue  # fontconfig substituted another family: this one is not installed
        try:
            with TTFont(found[1], fontNumber=int(found[2] or 0), lazy=True) as font:
                cmap = font.getBestCmap() or {}
        except Exception:  # noqa: S112 - an unreadable font covers nothing
            continue
        out.append((family, frozenset(cmap)))
    return tuple(out)


def missing_glyphs(text: str) -> list[str]:
    """Characters of ``text`` that no installed font of the stylesheet covers, named, e.g.
    ``U+1F600 GRINNING FACE``. Plain ASCII is never checked."""
    import unicodedata

    wanted = {ord(c) for c in text if ord(c) > 0x7E and not c.isspace()}
    wanted = {c for c in wanted if unicodedata.category(chr(c))[0] not in ("C", "Z")}
    if not wanted:
        return []
    for _family, points in _font_cmaps():
        wanted -= points
        if not wanted:
            return []
    # what the stylesheet's fonts lack, fontconfig's fallback may still find elsewhere
    missing = [c for c in sorted(wanted)[:64] if not _any_font_covers(c)]
    missing += sorted(wanted)[64:]
    return [f"U+{c:04X} {unicodedata.name(chr(c), 'unnamed')}" for c in missing]


@lru_cache(maxsize=4096)
def _any_font_covers(point: int) -> bool:
    import shutil
    import subprocess

    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    try:
        out = subprocess.run(
            [fc_list, f":charset={point:x}", "family"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def _add_pdfua_identification(_document: Any, pdf: Any) -> None:
    """A WeasyPrint finisher: declare PDF/UA-1 next to PDF/A-3b in the XMP metadata."""
    ref = pdf.catalog["Metadata"]
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    stream = pdf.objects[int(ref.split()[0])]
    content = b"".join(
        part if isinstance(part, bytes) else str(part).encode() for part in stream.stream
    )
    at = content.index(b"</rdf:RDF>")
    stream.stream = [content[:at] + _PDFUA_XMP + content[at:]]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class PdfRenderer:
    """HTML → PDF through WeasyPrint, with a local-only URL fetcher.

    After :meth:`render`, ``refused_urls`` lists any URL a template tried to load (and
    ``layout_warnings`` what WeasyPrint logged), so callers and tests can see that nothing
    was fetched.
    """

    format = "pdf"
    suffix = ".pdf"
    media_type = "application/pdf"
    documents: tuple[str, ...] = HtmlRenderer.documents

    def __init__(self, templates: Path | None = None) -> None:
        self.html = HtmlRenderer(templates)
        self.refused_urls: list[str] = []
        self.layout_warnings: list[str] = []

    def render(self, document: str, context: Mapping[str, Any]) -> bytes:
        import json

        text = self.html.render_text(document, context)
        record = json.dumps(context, sort_keys=True, ensure_ascii=False, indent=1).encode()
        return self.from_html(text, date=context.get("date"), record=record)

    def from_html(
        self, text: str, *, date: str | None = None, record: bytes | None = None
    ) -> bytes:
        """Lay out an HTML string we rendered (never fetched) as a PDF/A-3b, tagged PDF,
        with ``record`` (JSON) embedded as ``ordinance-record.json``."""
        from ordinance.report.binding import EMBEDDED_RECORD_NAME

        wp = load_weasyprint()
        fetcher = _fetcher_class(wp)()
        collect = _Collect()
        logger = logging.getLogger("weasyprint")
        logger.addHandler(collect)
        epoch = _epoch(date)
        when = datetime.fromtimestamp(epoch, UTC)
        try:
            with _source_date_epoch(epoch):
                html = wp.HTML(string=text, url_fetcher=fetcher, base_url=None, media_type="print")
                document = html.render()
                identifier = hashlib.sha256(text.encode()).hexdigest()[:32].encode()
                attachments = []
                if record is not None:
                    attachments.append(
                        wp.Attachment(
                            string=record.decode("utf-8"),
                            name=EMBEDDED_RECORD_NAME,
                            description="The document's data as JSON (Ordinance record)",
                            relationship="Data",
                            created=when,
                            modified=when,
                            url_fetcher=fetcher,
                        )
                    )
                with warnings.catch_warnings():
                    # WeasyPrint 70 opens its sRGB output-intent profile for PDF/A and never
                    # closes the file; the leak is theirs and harmless, the warning noise
                    warnings.simplefilter("ignore", ResourceWarning)
                    data: bytes = document.write_pdf(
                        pdf_identifier=identifier,
                        pdf_variant="pdf/a-3b",
                        pdf_tags=True,
                        attachments=attachments,
                        finisher=_add_pdfua_identification,
                    )
                    gc.collect()
        finally:
            logger.removeHandler(collect)
        self.refused_urls = list(fetcher.refused)
        missing = missing_glyphs(text)
        self.layout_warnings = collect.messages + (
            [
                "no installed font covers "
                + ", ".join(missing[:8])
                + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
                + " (install fonts-noto-core, fonts-noto-cjk or fonts-noto-color-emoji)"
            ]
            if missing
            else []
        )
        return data

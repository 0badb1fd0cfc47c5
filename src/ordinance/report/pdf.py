"""PDF rendering with WeasyPrint (the optional ``ordinance[pdf]`` extra).

The PDF is the HTML document laid out for print by the same stylesheet: a title page, a
table of contents with page numbers (``target-counter``), running headers (``string-set``)
and page numbers. WeasyPrint is imported lazily; without it, rendering raises one
:class:`~ordinance.errors.MissingExtraError` saying what to install.

Safety and reproducibility:

* The URL fetcher refuses every URL that is not ``data:``: rendering never touches the
  network or the file system, whatever a template or model data contains.
* The PDF's creation and modification dates come from the document's ``date`` (a record's
  time, not the wall clock); the file identifier derives from the HTML; embedded font
  subsets get a fixed timestamp (``SOURCE_DATE_EPOCH``), so the same records give the same
  PDF bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from ordinance.errors import InfrastructureError, MissingExtraError
from ordinance.report.html import HtmlRenderer

__all__ = ["PdfRenderer", "load_weasyprint"]


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
        text = self.html.render_text(document, context)
        return self.from_html(text, date=context.get("date"))

    def from_html(self, text: str, *, date: str | None = None) -> bytes:
        """Lay out an HTML string we rendered (never fetched) as PDF bytes."""
        wp = load_weasyprint()
        fetcher = _fetcher_class(wp)()
        collect = _Collect()
        logger = logging.getLogger("weasyprint")
        logger.addHandler(collect)
        try:
            with _source_date_epoch(_epoch(date)):
                html = wp.HTML(string=text, url_fetcher=fetcher, base_url=None, media_type="print")
                document = html.render()
                identifier = hashlib.sha256(text.encode()).hexdigest()[:32].encode()
                data: bytes = document.write_pdf(pdf_identifier=identifier)
        finally:
            logger.removeHandler(collect)
        self.refused_urls = list(fetcher.refused)
        self.layout_warnings = collect.messages
        return data

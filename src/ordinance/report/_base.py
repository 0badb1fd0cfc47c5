"""The one interface every output format implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["DOCUMENTS", "Renderer"]

#: The documents Ordinance renders: a model card, a compliance report, a portfolio report and
#: the index page of a published catalog.
DOCUMENTS: tuple[str, ...] = ("card", "report", "portfolio", "catalog")


class Renderer(Protocol):
    """Turns a context (plain data from :mod:`ordinance.report.context`) into bytes.

    ``documents`` lists what this format can render; asking for anything else is an
    :class:`~ordinance.errors.InputError`. Renderers never fetch URLs and never evaluate model
    data as template source.
    """

    format: str
    suffix: str
    media_type: str
    documents: tuple[str, ...]

    def render(self, document: str, context: Mapping[str, Any]) -> bytes: ...

"""docs/openapi.json is the API the server serves (regenerate: python -m ordinance.server)."""

from __future__ import annotations

import json
from pathlib import Path

from ordinance.server.app import openapi_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_published_openapi_document_is_current() -> None:
    published = json.loads(DOC.read_text(encoding="utf-8"))
    assert published == openapi_document(), (
        "docs/openapi.json is stale: python -m ordinance.server > docs/openapi.json"
    )


def test_core_routes_are_documented() -> None:
    doc = openapi_document()
    paths = doc["paths"]
    for needed in (
        "/v1/versions",
        "/v1/checks",
        "/v1/approvals",
        "/v1/promotions",
        "/v1/blobs/sha256/{digest}",
        "/v1/log/bundle",
    ):
        assert needed in paths

"""The published conformance vectors (docs/vectors/index.json): each bundle verifies (or fails,
naming the first bad entry) exactly as the index says, through the CLI as an auditor runs it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ordinance._cli import main

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
INDEX = json.loads((VECTORS / "index.json").read_text())["vectors"]


def test_there_are_good_and_bad_vectors() -> None:
    assert sum(v["expect"]["ok"] for v in INDEX) >= 2
    assert sum(not v["expect"]["ok"] for v in INDEX) >= 20


@pytest.mark.parametrize("vector", INDEX, ids=[v["name"] for v in INDEX])
def test_vector(vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(VECTORS)
    monkeypatch.setenv("ORDINANCE_HOME", str(VECTORS / "no-workspace"))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            ["log", "verify", "--bundle", vector["bundle"], *vector["args"], "--format", "json"]
        )
    report = json.loads(buf.getvalue())
    want = vector["expect"]
    assert code == want["exit"], report
    assert report["ok"] is want["ok"]
    if not want["ok"]:
        assert report["first_bad_index"] == want["first_bad_index"], report["reason"]
        assert want["reason_contains"] in report["reason"]

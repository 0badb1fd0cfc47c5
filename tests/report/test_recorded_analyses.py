"""Analyses are computed once per evidence file and read back after: the same numbers, and a
card rendered from recorded analyses imports no data-frame library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ordinance.model import Evidence
from ordinance.report import build_card_context
from ordinance.report.analyses import _recorded
from ordinance.workspace import Workspace

HEAVY = ("pandas", "pyarrow", "sklearn", "fairlearn", "scipy")


def _copy(demo_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / ".ordinance"
    shutil.copytree(demo_home, home)
    shutil.rmtree(home / "cache" / "analyses", ignore_errors=True)
    return home


def test_recorded_analyses_are_the_computed_ones(demo_home: Path, tmp_path: Path) -> None:
    home = _copy(demo_home, tmp_path)
    kept = home / "cache" / "analyses"
    with Workspace.open(home) as ws:
        computed = build_card_context(ws, "credit-risk", "1.1.0")
        files = sorted(kept.glob("*.json"))
        assert len(files) == 2  # one outcomes and one fairness entry for the one predictions file
        read_back = build_card_context(ws, "credit-risk", "1.1.0")
        assert read_back == computed
        (fairness,) = computed["fairness"]
        (outcomes,) = computed["outcomes"]
        assert fairness["error"] is None and len(fairness["groupings"]) >= 2
        assert outcomes["error"] is None and outcomes["stats"]["auc"]["value"] > 0.5
        # other parameters are another analysis, kept under another key
        other = build_card_context(ws, "credit-risk", "1.1.0", min_group_size=5)
        assert len(list(kept.glob("*.json"))) == 3
        assert other["fairness"][0]["min_group_size"] == 5
        # a damaged record is recomputed, never trusted as it is
        for f in files:
            f.write_text("{not json", encoding="utf-8")
        assert build_card_context(ws, "credit-risk", "1.1.0") == computed
        assert json.loads(files[0].read_text(encoding="utf-8"))["evidence"]


def test_rows_in_a_database_and_failures_are_never_kept(tmp_path: Path) -> None:
    class FakeWorkspace:
        home = tmp_path

    calls: list[str] = []

    def compute(item: Evidence) -> dict[str, Any]:
        calls.append(item.name)
        return {"error": "cannot read" if item.name == "broken" else None, "n": len(calls)}

    def evidence(name: str, attributes: dict[str, Any]) -> Evidence:
        return Evidence(
            kind="predictions",
            name=name,
            sha256="a" * 64,
            size=1,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            attributes=attributes,
        )

    ws: Any = FakeWorkspace()
    sql = evidence("sql", {"sql": {"url_env": "DB", "table": "t"}, "y_true": "y"})
    broken = evidence("broken", {"y_true": "y"})
    file = evidence("file", {"y_true": "y"})
    for _ in range(2):
        _recorded(ws, "fairness", sql, {}, compute)
        _recorded(ws, "fairness", broken, {}, compute)
        _recorded(ws, "fairness", file, {}, compute)
    assert calls == ["sql", "broken", "file", "sql", "broken"]


def test_a_card_from_recorded_analyses_imports_no_data_frame_library(
    demo_home: Path, tmp_path: Path
) -> None:
    home = _copy(demo_home, tmp_path)
    with Workspace.open(home) as ws:
        build_card_context(ws, "credit-risk", "1.1.0")  # records the analyses
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ordinance.report import build_card_context, render_document\n"
        "from ordinance.workspace import Workspace\n"
        f"with Workspace.open(Path({str(home)!r})) as ws:\n"
        "    html = render_document('card', build_card_context(ws, 'credit-risk', '1.1.0'), 'html')\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(json.dumps({'heavy': heavy, 'size': len(html)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    result = json.loads(out.stdout)
    assert result["size"] > 10_000
    assert result["heavy"] == []

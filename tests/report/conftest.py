"""Workspaces for the report tests: the demo story, and a model whose text is hostile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report_support import EVIL, EVIL_METRIC

from helpers import small_manifest
from ordinance.workspace import Workspace, init_workspace

FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's workspace: two credit-risk versions, evaluations, approvals, a waiver,
    explainability evidence, promotions and a verified log."""
    from ordinance.demo import run_demo

    directory = tmp_path_factory.mktemp("demo")
    run_demo(directory, say=lambda _s: None)
    return directory / ".ordinance"


@pytest.fixture
def demo_ws(demo_home: Path) -> Iterator[Workspace]:
    ws = Workspace.open(demo_home)
    try:
        yield ws
    finally:
        ws.close()


def record_check(ws: Workspace, model: str, version: str, stage: str = "staging") -> str:
    """Evaluate the workspace's packs for ``stage`` and record the result (as `ordinance check`)."""
    from ordinance.policy import EvaluationContext, evaluate, load_packs

    registry = ws.registry()
    v = registry.get_version(model, version)
    ctx = EvaluationContext(
        now=FIXED_NOW,
        evidence=ws.evidence,
        champion=registry.find_version_in_stage,
        approvals=(),
        waivers=(),
    )
    ev = evaluate(v, stage, load_packs(["ordinance:baseline"]), ctx)
    ws.record_evaluation(ev)
    return str(ev.verdict)


@pytest.fixture(scope="session")
def evil_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose description, documentation and metric names hold HTML and Jinja."""
    base = tmp_path_factory.mktemp("evil")
    home = base / ".ordinance"
    ws = init_workspace(home, origin="ordinance.local/evil")
    try:
        manifest = small_manifest(
            base / "m",
            name="evil-model",
            model={
                "name": "evil-model",
                "owner": "team-<i>x</i>",
                "risk_tier": "high",
                "description": EVIL,
                "tags": ["t"],
            },
            metrics={EVIL_METRIC: 0.5, "auc": 0.8},
            documentation={
                "intended_use": EVIL,
                "limitations": "{{ config }} {{ ''.__class__.__mro__ }}",
            },
        )
        ws.register(manifest, now=FIXED_NOW)
        record_check(ws, "evil-model", "1.0.0")
    finally:
        ws.close()
    return home


@pytest.fixture
def evil_ws(evil_home: Path) -> Iterator[Workspace]:
    ws = Workspace.open(evil_home)
    try:
        yield ws
    finally:
        ws.close()

"""The core never imports the CLI, rendering or web stacks (click, rich, weasyprint, FastAPI)."""

from __future__ import annotations

import json
import subprocess
import sys

CORE_MODULES = [
    "ordinance",
    "ordinance.errors",
    "ordinance.model",
    "ordinance.manifest",
    "ordinance.identity",
    "ordinance.workspace",
    "ordinance.store",
    "ordinance.store.registry",
    "ordinance.evidence",
    "ordinance.records",
    "ordinance.gate",
    "ordinance.stages",
    "ordinance.stage_history",
    "ordinance.signing",
    "ordinance.log",
    "ordinance.metrics",
    "ordinance.metrics.fairness",
    "ordinance.policy",
    "ordinance.approvals",
    "ordinance.promotion",
    "ordinance.attest",
    "ordinance.report",
    "ordinance.report.context",
    "ordinance.report.html",
    "ordinance.report.card",
    "ordinance.integrations.mlflow",
    "ordinance.tokens",
    "ordinance.storage",
    "ordinance.client",
]
FORBIDDEN = ("click", "rich", "weasyprint", "fastapi", "starlette", "uvicorn")


def test_core_imports_no_cli_or_renderers() -> None:
    code = (
        "import importlib, json, sys\n"
        f"mods = {CORE_MODULES!r}\n"
        "missing = []\n"
        "for m in mods:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except ModuleNotFoundError as e:\n"
        "        if e.name != m: raise\n"
        "        missing.append(m)\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps({'bad': bad, 'missing': missing}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["bad"] == [], f"core imported {result['bad']}"
    assert result["missing"] == [], f"core modules missing: {result['missing']}"


def test_cli_module_is_the_one_that_imports_click() -> None:
    code = "import sys, ordinance._cli; print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_server_package_does_not_import_click() -> None:
    code = (
        "import sys, ordinance.server, ordinance.server.api\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('click', 'rich')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

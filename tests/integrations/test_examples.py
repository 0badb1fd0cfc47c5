"""Every example under examples/ runs as documented, in a fresh directory, as a subprocess.

The scripts call only documented `ordinance` commands; each checks its own story (a check that
must fail exits 1, a tampered bundle is rejected) and exits non-zero if the story breaks.
These tests then check the files the scripts leave behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCRIPTED = ("credit-risk", "rollback", "auditor")

pytestmark = pytest.mark.slow


def _run(example: str, work: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDINANCE_")}
    # `ordinance` and `python` resolve to the interpreter running the tests.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONWARNINGS"] = "error::DeprecationWarning:ordinance"
    proc = subprocess.run(
        ["bash", str(EXAMPLES / example / "run.sh"), str(work)],
        capture_output=True,
        text=True,
        env=env,
        cwd=work.parent,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"examples/{example}/run.sh exited {proc.returncode}\n"
        f"--- stdout (tail)\n{proc.stdout[-3000:]}\n--- stderr (tail)\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.mark.parametrize("example", SCRIPTED)
def test_example_has_a_readme_that_points_at_its_script(example: str) -> None:
    readme = EXAMPLES / example / "README.md"
    assert readme.is_file(), f"examples/{example}/README.md is missing"
    assert "run.sh" in readme.read_text()


def test_credit_risk(tmp_path: Path) -> None:
    work = tmp_path / "credit-risk"
    proc = _run("credit-risk", work)
    assert "blocked by baseline/fairness-false-positive-rate" in proc.stderr
    sarif = json.loads((work / "check-1.1.0.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert "1.1.0:production" in proc.stdout
    assert "staging → production" in proc.stdout


def test_rollback(tmp_path: Path) -> None:
    work = tmp_path / "rollback"
    proc = _run("rollback", work)
    assert "rollback" in proc.stdout and "2.0.0:production, 2.1.0:archived" in proc.stdout
    before = json.loads((work / "history-before-release.json").read_text())
    assert before["stages_at"]["production"] == ["2.0.0"]


def test_auditor_verifies_offline_and_catches_tampering(tmp_path: Path) -> None:
    work = tmp_path / "auditor"
    proc = _run("auditor", work)
    verified = json.loads((work / "auditor" / "verified.json").read_text())
    assert verified["ok"] is True and verified["size"] >= 5
    assert not (work / "auditor" / ".ordinance").exists()
    assert proc.stdout.count("rejected, as it should be") == 2
    assert "truncated or rolled back" in proc.stderr

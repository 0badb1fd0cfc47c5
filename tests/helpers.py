"""Test helpers: run the CLI in-process and build small manifests."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str | Path) -> Result:
    """Run ``ordinance ARGS`` in-process through the real entry point (error handler included)."""
    from ordinance._cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    sys.stdout.flush()
    return Result(code, out.getvalue(), err.getvalue())


def small_manifest(
    directory: Path, *, version: str = "1.0.0", name: str = "toy", **extra: Any
) -> Path:
    """A valid manifest with a model file, a prediction table and a datasheet."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model").mkdir(exist_ok=True)
    (directory / "model" / "weights.bin").write_bytes(b"weights-" + version.encode())
    (directory / "preds.csv").write_text("y,yhat,sex\n1,1,f\n0,0,m\n1,0,f\n0,1,m\n1,1,m\n0,0,f\n")
    (directory / "datasheet.md").write_text("# data\n")
    (directory / "train.csv").write_text("a,b\n1,2\n")
    doc: dict[str, Any] = {
        "apiVersion": "ordinance/v1",
        "model": {"name": name, "owner": "team-a", "risk_tier": "high", "tags": ["t"]},
        "version": version,
        "author": "alice@example.com",
        "created_at": "2026-01-01T00:00:00Z",
        "artifacts": {"path": "model"},
        "lineage": {
            "datasets": [{"name": "train", "uri": "file:train.csv", "path": "train.csv"}],
            "code": {"repository": "https://git.example/toy", "commit": "abc123"},
            "training_run": "runs:/1",
        },
        "metrics": {"auc": 0.8},
        "documentation": {"intended_use": "testing", "limitations": "tiny"},
        "evidence": [
            {
                "kind": "predictions",
                "path": "preds.csv",
                "attributes": {"y_true": "y", "y_pred": "yhat", "sensitive": ["sex"]},
            },
            {"kind": "datasheet", "path": "datasheet.md"},
        ],
    }
    doc.update(extra)
    path = directory / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path

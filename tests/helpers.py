"""Test helpers: run the CLI in-process, build small manifests, the promotion gate's packs,
seeded signers, and copies of workspaces built once per session."""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ordinance.signing import Ed25519Signer

#: production needs the AUC floor and a validator and a risk officer (not the author)
PROD_PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: prod-gate, version: "1"}
rules:
  - id: auc-floor
    type: metrics.threshold
    params: {metric: auc, min: 0.75}
    message: AUC must be at least 0.75.
  - id: two-approvals
    type: approvals.required
    params:
      roles: {model-validator: 1, risk-officer: 1}
      separation_of_duties: true
      max_age_days: 90
    message: A validator and a risk officer must approve.
"""

#: staging only needs a lower AUC floor
STAGING_PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: staging-gate, version: "1"}
rules:
  - id: auc-floor
    type: metrics.threshold
    params: {metric: auc, min: 0.5}
"""


def write_packs(directory: Path) -> dict[str, list[str]]:
    """Write PROD_PACK and STAGING_PACK under ``directory``; return the ``policies`` config."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prod.yaml").write_text(PROD_PACK)
    (directory / "staging.yaml").write_text(STAGING_PACK)
    return {
        "staging": [str(directory / "staging.yaml")],
        "production": [str(directory / "prod.yaml")],
    }


def seeded_signer(n: int, name: str) -> Ed25519Signer:
    """A deterministic Ed25519 key for ``name`` (seed byte ``n``): no key generation per test."""
    from ordinance.signing import Ed25519Signer

    return Ed25519Signer.from_seed(bytes([n]) * 32, name)


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


class Templates:
    """Workspaces built once per session (per xdist worker) and copied for each test.

    Building a workspace (``init``: schema migrations, a log key; registrations; a roster) costs
    tenths of a second per test; copying the finished directory costs milliseconds. Only
    directory trees are copied, so this serves SQLite workspaces (the database file lives in
    the tree); a PostgreSQL test builds its own schema. Absolute paths of the template in
    ``config.yaml`` (the SQLite URL, policy packs) are rewritten to the copy's.
    """

    def __init__(self, base: Path) -> None:
        self._base = base
        self._built: dict[str, Path] = {}

    def clone(self, key: str, build: Callable[[Path], object], dest: Path) -> Path:
        """Copy the tree ``build(root)`` made for ``key`` (made on first use) into ``dest``."""
        root = self._built.get(key)
        if root is None:
            root = self._base / key
            root.mkdir(parents=True)
            build(root)
            self._built[key] = root
        shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True)
        for config in dest.rglob("config.yaml"):
            doc = yaml.safe_load(config.read_text())
            moved = _replace_in_strings(doc, str(root), str(dest))
            if moved != doc:
                config.write_text(yaml.safe_dump(moved, sort_keys=False, width=1 << 16))
        return dest


def _replace_in_strings(doc: Any, old: str, new: str) -> Any:
    if isinstance(doc, str):
        return doc.replace(old, new)
    if isinstance(doc, dict):
        return {k: _replace_in_strings(v, old, new) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_replace_in_strings(v, old, new) for v in doc]
    return doc

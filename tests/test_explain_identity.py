"""`explain` computes only from the model bytes the version's identity covers (issue 12).

The hole: any file attached as ``kind: model`` was explained and the result stamped with the
version's identity, so the explainability rule passed for an explanation of another model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from helpers import run_cli, small_manifest
from ordinance.identity import compute_identity, is_single_file_identity


def _data(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    data["label"] = (data["a"] > 0).astype(int)
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    return data, path


def test_single_file_identity_is_the_file(tmp_path: Path) -> None:
    f = tmp_path / "m.bin"
    f.write_bytes(b"weights")
    ident = compute_identity(f)
    digest = hashlib.sha256(b"weights").hexdigest()
    assert is_single_file_identity(ident.root_digest, "files", 1, digest)
    assert not is_single_file_identity(ident.root_digest, "files", 1, "0" * 64)
    assert not is_single_file_identity(ident.root_digest, "shards", 1, digest)
    assert not is_single_file_identity(ident.root_digest, "files", 2, digest)


def test_explain_refuses_a_model_file_outside_the_identity(tmp_path: Path) -> None:
    data, data_path = _data(tmp_path)
    home = tmp_path / "ws"
    assert run_cli("--home", home, "init").code == 0
    d = tmp_path / "v"
    # the identity covers the directory model/ (weights.bin); a different skops file is
    # attached as `kind: model` evidence
    manifest = small_manifest(d)
    sio.dump(LogisticRegression().fit(data[["a", "b"]], data["label"]), d / "other.skops")
    text = manifest.read_text().replace(
        "evidence:\n",
        "evidence:\n- kind: model\n  path: other.skops\n",
        1,
    )
    manifest.write_text(text)
    r = run_cli("--home", home, "register", manifest)
    assert r.code == 0, r.err
    before = run_cli("--home", home, "log", "checkpoint", "--format", "json").json()["size"]
    r = run_cli(
        "--home", home, "explain", "toy@1.0.0", "--data", data_path, "--target", "label",
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert r.code == 2, (r.out, r.err)
    assert "not covered by the version's identity" in r.err or "no model file is covered" in r.err
    assert "artifacts.path" in r.err  # the hint
    assert len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "toy-1.0.0.explainability.json").exists()
    after = run_cli("--home", home, "log", "checkpoint", "--format", "json").json()["size"]
    assert after == before  # nothing attached


def test_explain_computes_from_the_identified_file(tmp_path: Path) -> None:
    data, data_path = _data(tmp_path)
    home = tmp_path / "ws"
    assert run_cli("--home", home, "init").code == 0
    d = tmp_path / "v"
    manifest = small_manifest(d, artifacts={"path": "model.skops"})
    sio.dump(LogisticRegression().fit(data[["a", "b"]], data["label"]), d / "model.skops")
    assert run_cli("--home", home, "register", manifest).code == 0
    r = run_cli(
        "--home", home, "explain", "toy@1.0.0", "--data", data_path, "--target", "label",
        "--out", tmp_path / "out", "--no-register", "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.err
    ident = compute_identity(d / "model.skops").root_digest
    assert r.json()["artifact"]["model_identity"]["sha256"] == ident

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


def test_model_evidence_outside_the_identity_is_refused(tmp_path: Path) -> None:
    """Registration and `evidence add` refuse a `kind: model` file the identity does not
    digest, so `explain` can only ever compute from identified bytes."""
    data, data_path = _data(tmp_path)
    home = tmp_path / "ws"
    assert run_cli("--home", home, "init").code == 0
    d = tmp_path / "v"
    # the identity covers the directory model/ (weights.bin); a different skops file is
    # declared as `kind: model` evidence
    manifest = small_manifest(d)
    sio.dump(LogisticRegression().fit(data[["a", "b"]], data["label"]), d / "other.skops")
    good = manifest.read_text()
    manifest.write_text(
        good.replace("evidence:\n", "evidence:\n- kind: model\n  path: other.skops\n", 1)
    )
    r = run_cli("--home", home, "register", manifest)
    assert r.code == 2, (r.out, r.err)
    assert (
        "manifest.yaml:" in r.err and "not one of the files the version's identity covers" in r.err
    )
    assert len(r.err.strip().splitlines()) == 1
    # registered without it, the file cannot be attached as the model afterwards either
    manifest.write_text(good)
    assert run_cli("--home", home, "register", manifest).code == 0
    before = run_cli("--home", home, "log", "checkpoint", "--format", "json").json()["size"]
    r = run_cli(
        "--home", home, "evidence", "add", "toy@1.0.0", d / "other.skops", "--kind", "model"
    )
    assert r.code == 2 and "identity covers" in r.err and "another kind" in r.err, r.err
    # with no model file the identity covers, explain refuses with the hint
    r = run_cli(
        "--home", home, "explain", "toy@1.0.0", "--data", data_path, "--target", "label",
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert r.code == 2, (r.out, r.err)
    assert "artifacts.path" in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "toy-1.0.0.explainability.json").exists()
    after = run_cli("--home", home, "log", "checkpoint", "--format", "json").json()["size"]
    assert after == before  # nothing attached


def test_model_evidence_inside_the_identity_is_marked(tmp_path: Path) -> None:
    data, data_path = _data(tmp_path)
    home = tmp_path / "ws"
    assert run_cli("--home", home, "init").code == 0
    d = tmp_path / "v"
    manifest = small_manifest(d)
    sio.dump(LogisticRegression().fit(data[["a", "b"]], data["label"]), d / "model" / "m.skops")
    text = manifest.read_text()
    manifest.write_text(
        text.replace("evidence:\n", "evidence:\n- kind: model\n  path: model/m.skops\n", 1)
    )
    r = run_cli("--home", home, "register", manifest, "--format", "json")
    assert r.code == 0, r.err
    shown = run_cli("--home", home, "show", "toy@1.0.0", "--format", "json").json()
    model = next(e for e in shown["evidence"] if e["kind"] == "model")
    assert model["attributes"]["identity_resource"] == "m.skops"
    r = run_cli(
        "--home", home, "explain", "toy@1.0.0", "--data", data_path, "--target", "label",
        "--out", tmp_path / "out", "--no-register", "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.err


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

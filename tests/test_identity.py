"""Model identity reproduces the OpenSSF model-signing v1.0 golden statements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ordinance.identity import compute_identity


def _cases(shared: Path) -> list[dict]:
    return json.loads((shared / "vectors" / "model_signing_manifest.json").read_text())["cases"]


def _materialize(case: dict, root: Path) -> Path:
    name = case["statement"]["subject"][0]["name"]
    if case["model_single_file_utf8"] is not None:
        p = root / name
        p.write_text(case["model_single_file_utf8"])
        return p
    model = root / name
    model.mkdir()
    for rel, text in (case["model_files_utf8"] or {}).items():
        f = model / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return model


def test_every_model_signing_vector_reproduces(shared: Path, tmp_path: Path) -> None:
    cases = _cases(shared)
    assert len(cases) == 12
    for i, case in enumerate(cases):
        root = tmp_path / f"case{i}"
        root.mkdir()
        path = _materialize(case, root)
        ser = case["statement"]["predicate"]["serialization"]
        method = ser["method"]
        identity = compute_identity(
            path,
            method=method,
            shard_size=int(ser.get("shard_size", 1_000_000_000)),
        )
        got = identity.statement()
        want = case["statement"]
        assert got["subject"] == want["subject"], case["golden"]
        assert got["predicate"]["resources"] == want["predicate"]["resources"], case["golden"]
        assert got["predicate"]["serialization"] == ser, case["golden"]
        assert got == want


def test_identity_ignores_git_metadata_and_changes_with_content(tmp_path: Path) -> None:
    m = tmp_path / "m"
    (m / ".git").mkdir(parents=True)
    (m / ".git" / "HEAD").write_text("ref")
    (m / "w.bin").write_bytes(b"abc")
    a = compute_identity(m)
    (m / ".git" / "HEAD").write_text("other")
    assert compute_identity(m).root_digest == a.root_digest
    (m / "w.bin").write_bytes(b"abd")
    assert compute_identity(m).root_digest != a.root_digest


def test_sorting_is_by_path_components(tmp_path: Path) -> None:
    m = tmp_path / "m"
    (m / "a").mkdir(parents=True)
    (m / "a" / "b").write_text("1")
    (m / "a.b").write_text("2")
    names = [r.name for r in compute_identity(m).resources]
    assert names == ["a/b", "a.b"]


def test_missing_model_path_is_input_error(tmp_path: Path) -> None:
    from ordinance.errors import InputError

    with pytest.raises(InputError):
        compute_identity(tmp_path / "nope")

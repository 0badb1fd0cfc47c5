"""Every bad input is exit 2 with one line, never exit 3; human output is printable.

Each case here was an internal error (exit 3) or an escape sequence on screen before.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from helpers import Result, Templates, run_cli, small_manifest

SHA = "a" * 64


def _registered(root: Path) -> None:
    h = root / ".ordinance"
    assert run_cli("--home", h, "init").code == 0
    assert run_cli("--home", h, "register", small_manifest(root / "base")).code == 0


@pytest.fixture
def home(tmp_path: Path, templates: Templates) -> Path:
    """A workspace holding toy@1.0.0 (a copy of one made per session)."""
    return templates.clone("bad-inputs-registered", _registered, tmp_path) / ".ordinance"


def _usage_error(r: Result, needle: str) -> None:
    assert r.code == 2, (r.code, r.err)
    assert r.err.count("\n") == 1 and "internal error" not in r.err, r.err
    assert needle in r.err, r.err


def _evidence(**attributes: Any) -> dict[str, Any]:
    return {"evidence": [{"kind": "datasheet", "path": "datasheet.md", "attributes": attributes}]}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"metrics": {"auc": float("nan")}}, "metric 'auc' must be a finite number"),
        ({"metrics": {"auc": float("inf")}}, "metric 'auc' must be a finite number"),
        (_evidence(when=date(2024, 1, 1)), "must be quoted text here"),
        (_evidence(x=float("nan")), "must be a finite number"),
        (_evidence(x={1: "a"}), "keys must be text"),
        ({"created_at": "9999-12-31T23:59:59-05:00"}, "the year must be between 1900 and 9000"),
    ],
    ids=["nan-metric", "inf-metric", "yaml-date", "nan-attribute", "int-key", "far-time"],
)
def test_bad_manifest_values(
    home: Path, tmp_path: Path, extra: dict[str, Any], needle: str
) -> None:
    m = small_manifest(tmp_path / "m", name="other", **extra)
    _usage_error(run_cli("--home", home, "register", m), needle)


def test_an_overflowing_number_literal(home: Path, tmp_path: Path) -> None:
    m = small_manifest(tmp_path / "m", name="other")
    m.write_text(m.read_text().replace("auc: 0.8", "auc: 1e400"))
    _usage_error(run_cli("--home", home, "register", m), "must be a finite number")


def test_binary_and_far_inputs(home: Path, tmp_path: Path) -> None:
    binary = tmp_path / "bin"
    binary.write_bytes(b"\x00\xff\xfe\x80 not text")
    _usage_error(
        run_cli("--home", home, "log", "verify", "--trusted-checkpoint", binary), "not UTF-8"
    )
    _usage_error(run_cli("--home", home, "log", "verify", "--vkey", binary), "not UTF-8")
    _usage_error(run_cli("--home", home, "roster", "apply", binary), "not UTF-8")
    vkey = home / "keys" / "log.vkey"
    r = run_cli("verify-attestation", binary, "--vkey", vkey)
    assert r.code == 1 and "attestation rejected" in r.err  # a failed verification, not a crash
    r = run_cli("keys", "show", binary)
    _usage_error(r, "malformed verifier key")
    assert "not text" not in r.err  # the file's text is not echoed
    far = "9999-12-31"
    _usage_error(run_cli("--home", home, "history", "toy", "--at", far), "year must be")
    _usage_error(
        run_cli("--home", home, "log", "show", "--since", "9999-12-31T23:59:59-05:00"),
        "year must be",
    )
    assert run_cli("keys", "generate", "--name", "alice", "--out", tmp_path / "k").code == 0
    _usage_error(
        run_cli(
            "--home", home, "waive", "toy@1.0.0", "--rule", "x",
            "--justification", "a good reason", "--expires", far, "--key", tmp_path / "k",
        ),
        "year must be",
    )  # fmt: skip
    r = run_cli(
        "--home", home, "approve", "toy@1.0.0", "--stage", "staging",
        "--key", tmp_path / "k", "--expires-in", "999999999",
    )  # fmt: skip
    assert r.code == 2 and "'--expires-in'" in r.err  # click's usage error


def _artifact(**change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": "https://ordinance.dev/explainability/v1",
        "kind": "permutation_importance",
        "model_identity": {"sha256": SHA},
        "features": [{"name": "age", "importance_mean": 0.1, "importance_std": 0.01}],
    }
    doc.update(change)
    return doc


def test_explainability_evidence_is_validated_when_added(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps(_artifact()).replace("0.1", "NaN"))
    add = ("--home", home, "evidence", "add", "toy@1.0.0")
    _usage_error(run_cli(*add, bad, "--kind", "explainability"), "NaN is not a JSON number")
    bad.write_text(json.dumps(_artifact(features=[])))
    _usage_error(run_cli(*add, bad, "--kind", "explainability"), "features")
    other = tmp_path / "report.json"
    other.write_text('{"psi": Infinity}')
    _usage_error(run_cli(*add, other, "--kind", "drift_report"), "Infinity is not a JSON number")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_artifact()))
    assert run_cli(*add, good, "--kind", "explainability").code == 0
    # nothing bad got in: cards and reports still build
    assert run_cli("--home", home, "card", "toy@1.0.0").code == 0
    assert run_cli("--home", home, "report", "toy@1.0.0", "--format", "json").code == 0


def test_explainability_evidence_in_a_manifest_is_validated(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "ex.json").write_text(json.dumps(_artifact()).replace("0.1", "Infinity"))
    m = small_manifest(d, name="other", evidence=[{"kind": "explainability", "path": "ex.json"}])
    _usage_error(run_cli("--home", home, "register", m), "evidence.0.path: explainability")


def test_terminal_escapes_never_reach_the_screen(home: Path, tmp_path: Path) -> None:
    esc = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"
    m = small_manifest(
        tmp_path / "m",
        name="esc",
        author=f"mallory{esc}@example.com",
        model={"name": "esc", "owner": f"team{esc}", "description": esc, "tags": [esc]},
    )
    r = run_cli("--home", home, "register", m)
    assert r.code == 0, r.err
    for args in (("show", "esc@1.0.0"), ("models",), ("show", "esc@1.0.0", "--format", "json")):
        r = run_cli("--home", home, *args)
        assert r.code == 0
        for c in "\x1b\x07\x9b\u202e":
            assert c not in r.out and c not in r.err
    shown = run_cli("--home", home, "show", "esc@1.0.0", "--format", "json").json()
    assert shown["author"] == f"mallory{esc}@example.com"  # JSON keeps the data, escaped
    r = run_cli("--home", home, "promote", "esc@1.0.0", "--to", "staging", "--actor", f"bob{esc}")
    assert r.code in (0, 1)
    r = run_cli("--home", home, "history", "esc")
    assert "bob" in r.out and "\x1b" not in r.out

"""Manifest parsing: every bad manifest is one located line, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_cli, small_manifest
from ordinance.errors import ManifestError
from ordinance.manifest import json_schema, load_manifest
from ordinance.workspace import init_workspace

LOCATED = re.compile(r"^ordinance: error: \S+manifest\.yaml(:\d+(:\d+)?)?: ")


def test_valid_manifest_resolves_and_hashes(tmp_path: Path) -> None:
    m = load_manifest(small_manifest(tmp_path))
    assert m.model.name == "toy" and m.version == "1.0.0"
    assert {e.kind for e in m.evidence} == {"predictions", "datasheet"}
    assert m.lineage.datasets[0].sha256 and len(m.lineage.datasets[0].sha256) == 64
    assert len(m.identity.root_digest) == 64


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.update(colour="red"), "colour: unknown field"),
        (lambda d: d["model"].update(owner=5), "model.owner"),
        (lambda d: d["metrics"].update(auc="high"), "metrics.auc"),
        (lambda d: d["evidence"][0].update(path="missing.csv"), "evidence.0.path: file not found"),
        (lambda d: d["artifacts"].update(path="nope/"), "artifacts.path: file not found"),
        (lambda d: d.pop("author"), "author: required field is missing"),
        (lambda d: d["documentation"].update(vibes="x"), "unknown documentation field"),
        (lambda d: d["lineage"]["datasets"][0].update(sha256="0" * 64), "digest does not match"),
    ],
)
def test_bad_manifest_names_file_line_and_field(tmp_path: Path, mutate, needle: str) -> None:
    path = small_manifest(tmp_path)
    doc = yaml.safe_load(path.read_text())
    mutate(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ManifestError) as ei:
        load_manifest(path)
    msg = str(ei.value)
    assert needle in msg
    assert re.match(r"^\S+manifest\.yaml:\d+:\d+: ", msg), msg
    assert "\n" not in msg
    assert ei.value.exit_code == 2


def test_line_number_points_at_the_field(tmp_path: Path) -> None:
    path = small_manifest(tmp_path)
    lines = path.read_text().splitlines()
    auc_line = next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith("auc:"))
    path.write_text(path.read_text().replace("auc: 0.8", "auc: not-a-number"))
    with pytest.raises(ManifestError) as ei:
        load_manifest(path)
    assert ei.value.location.line == auc_line


def test_duplicate_keys_and_bad_yaml(tmp_path: Path) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text("apiVersion: ordinance/v1\nversion: 1\nversion: 2\n")
    with pytest.raises(ManifestError, match=r"manifest\.yaml:3:1: version: duplicate key"):
        load_manifest(p)
    p.write_text("apiVersion: [ordinance\n")
    with pytest.raises(ManifestError, match=r"manifest\.yaml:\d+:\d+: invalid YAML"):
        load_manifest(p)


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    p = tmp_path / "manifest.yaml"
    p.write_text("apiVersion: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ManifestError, match="invalid YAML"):
        load_manifest(p)


def test_json_manifest_is_accepted(tmp_path: Path) -> None:
    import json

    path = small_manifest(tmp_path)
    doc = yaml.safe_load(path.read_text())
    jp = tmp_path / "manifest.json"
    jp.write_text(json.dumps(doc, indent=1))
    assert load_manifest(jp).version == "1.0.0"


def test_published_schema_is_current() -> None:
    import json

    published = Path(__file__).parent.parent / "docs" / "schemas" / "manifest-v1.schema.json"
    assert json.loads(published.read_text()) == json.loads(json.dumps(json_schema())), (
        "regenerate with: python -m ordinance.manifest > docs/schemas/manifest-v1.schema.json"
    )


def test_schema_accepts_a_valid_manifest(tmp_path: Path) -> None:
    import jsonschema

    doc = yaml.safe_load(small_manifest(tmp_path).read_text())
    jsonschema.validate(doc, json_schema())


# -- property tests: random and mutated manifests through `ordinance register` ---------------

_BASE: dict[str, str] = {}


def _valid_text(tmp: Path) -> str:
    if "text" not in _BASE:
        _BASE["text"] = small_manifest(tmp).read_text()
    return _BASE["text"]


@pytest.fixture(scope="module")
def ws_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    init_workspace(root / ".ordinance")
    small_manifest(root / "m")
    return root


def _snapshot(root: Path) -> tuple[dict[str, int], list[str]]:
    from ordinance.workspace import Workspace

    ws = Workspace.open(root / ".ordinance")
    try:
        counts = ws.registry().count_rows()
    finally:
        ws.close()
    blobs = sorted(str(p) for p in (root / ".ordinance" / "evidence").rglob("*") if p.is_file())
    return counts, blobs


def _assert_rejected(ws_dir: Path, text: str) -> None:
    mdir = ws_dir / "m"
    (mdir / "manifest.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    before = _snapshot(ws_dir)
    res = run_cli("--home", ws_dir / ".ordinance", "register", mdir / "manifest.yaml")
    if res.code == 0:  # a mutation that is still a valid manifest: fine, but then undo nothing
        return
    assert res.code == 2, res.err
    assert "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert LOCATED.match(res.err), res.err
    assert _snapshot(ws_dir) == before


_MUTATIONS = st.one_of(
    st.tuples(st.just("delete_line"), st.integers(0, 60)),
    st.tuples(st.just("dup_line"), st.integers(0, 60)),
    st.tuples(st.just("char"), st.integers(0, 2000), st.characters(codec="utf-8")),
    st.tuples(st.just("truncate"), st.integers(0, 2000)),
    st.tuples(
        st.just("value"),
        st.integers(0, 60),
        st.sampled_from(
            ["5", "-1.5", "[]", "{}", "null", "true", "'x'", "!!binary aGk=", "&a b", "*a"]
        ),
    ),
)


def _mutate(text: str, ops: list[tuple]) -> str:
    for op in ops:
        lines = text.splitlines(keepends=True)
        if op[0] == "delete_line" and lines:
            del lines[op[1] % len(lines)]
            text = "".join(lines)
        elif op[0] == "dup_line" and lines:
            i = op[1] % len(lines)
            lines.insert(i, lines[i])
            text = "".join(lines)
        elif op[0] == "char":
            i = op[1] % (len(text) + 1)
            text = text[:i] + op[2] + text[i:]
        elif op[0] == "truncate":
            text = text[: op[1] % (len(text) + 1)]
        elif op[0] == "value" and lines:
            i = op[1] % len(lines)
            key, sep, _ = lines[i].partition(":")
            if sep:
                lines[i] = f"{key}: {op[2]}\n"
            text = "".join(lines)
    return text


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(_MUTATIONS, min_size=1, max_size=4))
def test_mutated_manifests_never_traceback(ws_dir: Path, tmp_path: Path, ops: list[tuple]) -> None:
    _assert_rejected(ws_dir, _mutate(_valid_text(tmp_path), ops))


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=15,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=_JSONISH)
def test_random_documents_never_traceback(ws_dir: Path, doc: object) -> None:
    _assert_rejected(ws_dir, yaml.safe_dump(doc))

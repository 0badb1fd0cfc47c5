"""Permutation importance from skops models, the artifact schema, and identity binding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from ordinance.errors import EXIT_USAGE, InputError, UntrustedTypeError
from ordinance.identity import compute_identity
from ordinance.metrics.explain import (
    SCHEMA,
    SCHEMA_URI,
    artifact_binds_to,
    compute_permutation_importance,
    validate_explainability_artifact,
)

REPO = Path(__file__).resolve().parents[2]


def scale_by_two(x: np.ndarray) -> np.ndarray:
    """A user function: skops cannot know whether loading it is safe."""
    return x * 2.0


def _data(tmp_path: Path, seed: int = 0) -> tuple[pd.DataFrame, Path]:
    rng = np.random.default_rng(seed)
    n = 400
    df = pd.DataFrame(
        {
            "signal": rng.normal(size=n),
            "weak": rng.normal(size=n),
            "noise": rng.normal(size=n),
        }
    )
    df["label"] = (df["signal"] + 0.3 * df["weak"] + 0.2 * rng.normal(size=n) > 0).astype(int)
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return df, path


def _model(tmp_path: Path, df: pd.DataFrame, name: str = "model.skops", c: float = 1.0) -> Path:
    model = LogisticRegression(C=c).fit(df[["signal", "weak", "noise"]], df["label"])
    path = tmp_path / name
    sio.dump(model, path)
    return path


def _identity(path: Path) -> str:
    return compute_identity(path).root_digest


def test_permutation_importance_ranks_the_signal_first(tmp_path: Path) -> None:
    df, data = _data(tmp_path)
    model = _model(tmp_path, df)
    art = compute_permutation_importance(model, data, "label", _identity(model), seed=3)
    names = [f["name"] for f in art.data["features"]]
    assert names[0] == "signal"
    assert set(names) == {"signal", "weak", "noise"}
    assert art.data["schema"] == SCHEMA_URI
    assert art.data["model_identity"] == {"sha256": _identity(model)}
    validate_explainability_artifact(dict(art.data))
    # the document records its chart's digest; the chart names the model
    assert "<title" in art.svg and _identity(model) in art.svg
    # deterministic for a seed: same bytes again
    again = compute_permutation_importance(model, data, "label", _identity(model), seed=3)
    assert again.to_json() == art.to_json() and again.svg == art.svg
    json_path, svg_path = art.write(tmp_path / "out")
    assert validate_explainability_artifact(json_path) == json.loads(art.to_json())
    assert svg_path.read_text() == art.svg


def test_untrusted_type_is_refused_with_exit_2(tmp_path: Path) -> None:
    df, data = _data(tmp_path)
    pipe = make_pipeline(FunctionTransformer(scale_by_two), LogisticRegression())
    pipe.fit(df[["signal", "weak", "noise"]], df["label"])
    path = tmp_path / "custom.skops"
    sio.dump(pipe, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert any("scale_by_two" in t for t in untrusted)
    with pytest.raises(UntrustedTypeError) as info:
        compute_permutation_importance(path, data, "label", _identity(path))
    assert info.value.exit_code == EXIT_USAGE == 2
    assert "scale_by_two" in info.value.message and str(path) in info.value.message
    # trusting it explicitly is the only way in
    art = compute_permutation_importance(
        path, data, "label", _identity(path), trusted_types=untrusted
    )
    assert art.data["features"][0]["name"] == "signal"


def test_not_a_skops_file(tmp_path: Path) -> None:
    _, data = _data(tmp_path)
    bogus = tmp_path / "model.skops"
    bogus.write_bytes(b"\x80\x04not a zip")
    with pytest.raises(InputError, match="not a readable skops model"):
        compute_permutation_importance(bogus, data, "label", "0" * 64)


def test_artifact_of_one_version_does_not_bind_to_another(tmp_path: Path) -> None:
    df, data = _data(tmp_path)
    v1 = _model(tmp_path, df, "v1.skops", c=1.0)
    v2 = _model(tmp_path, df, "v2.skops", c=0.01)
    id1, id2 = _identity(v1), _identity(v2)
    assert id1 != id2
    art1 = compute_permutation_importance(v1, data, "label", id1)
    assert artifact_binds_to(art1, id1)
    assert artifact_binds_to(json.loads(art1.to_json()), id1)
    assert not artifact_binds_to(art1, id2)
    # a malformed artifact binds to nothing, even with the right digest inside
    broken = {**json.loads(art1.to_json()), "features": []}
    assert not artifact_binds_to(broken, id1)


def test_external_shap_artifact_validates(tmp_path: Path) -> None:
    doc = {
        "schema": SCHEMA_URI,
        "kind": "shap",
        "model_identity": {"sha256": "ab" * 32},
        "features": [
            {"name": "age", "importance_mean": 0.31},
            {"name": "income", "importance_mean": 0.12, "importance_std": 0.02},
        ],
        "method": {"name": "shap.TreeExplainer", "version": "0.46"},
        "shap": {"base_value": 0.2, "values": [[0.1, -0.2], [0.3, 0.0]]},
        "x-team": {"kept": True},
    }
    path = tmp_path / "shap.json"
    path.write_text(json.dumps(doc))
    assert validate_explainability_artifact(path) == doc
    assert artifact_binds_to(doc, "AB" * 32)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"schema": "https://example.org/other"}, "schema"),
        ({"kind": "vibes"}, "kind"),
        ({"model_identity": {"sha256": "xyz"}}, "model_identity/sha256"),
        ({"features": [{"name": "a"}]}, "features/0"),
        (
            {
                "features": [
                    {"name": "a", "importance_mean": 1},
                    {"name": "a", "importance_mean": 2},
                ]
            },
            "features",
        ),
        ({"shap": {"values": [[1.0]]}}, "shap/values/0"),
    ],
)
def test_invalid_artifacts_name_the_member(change: dict[str, object], where: str) -> None:
    doc = {
        "schema": SCHEMA_URI,
        "kind": "feature_importance",
        "model_identity": {"sha256": "ab" * 32},
        "features": [{"name": "a", "importance_mean": 1.0}, {"name": "b", "importance_mean": 0.5}],
        **change,
    }
    with pytest.raises(InputError) as info:
        validate_explainability_artifact(doc)
    assert f": {where}" in info.value.message


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text("{nope")
    with pytest.raises(InputError, match=r"a\.json: not JSON"):
        validate_explainability_artifact(path)


def test_documented_schema_is_the_one_enforced() -> None:
    doc = json.loads((REPO / "docs" / "schemas" / "explainability-v1.schema.json").read_text())
    assert doc == SCHEMA

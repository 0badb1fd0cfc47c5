"""The MLflow → manifest mapping as a pure function (runs without the mlflow extra).

These build :class:`VersionFacts` values directly — the same frozen values `read_version`
returns — and check the manifest Ordinance would register, including that it is byte-for-byte
deterministic and that it validates against the real manifest schema.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ordinance.errors import InputError
from ordinance.integrations.mlflow import (
    MANIFEST_HEADER,
    DatasetInput,
    VersionFacts,
    _local_sha256,
    _source_uri,
    manifest_document,
    render_manifest,
)
from ordinance.manifest import load_manifest

SHA = "ab" * 32
MLMODEL = {
    "mlflow_version": "3.1.0",
    "flavors": {
        "python_function": {"python_version": "3.11.7", "loader_module": "mlflow.sklearn"},
        "sklearn": {"sklearn_version": "1.5.0", "serialization_format": "skops"},
    },
}


def _facts(**over: object) -> VersionFacts:
    base: dict[str, object] = {
        "name": "credit",
        "version": "3",
        "created_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        "author": "alice@bank.example",
        "download_uri": "file:///nowhere",
        "source": "models:/m-1",
        "aliases": ("champion",),
        "model_description": "Scores applications.",
        "model_tags": {
            "ordinance.owner": "credit-team",
            "ordinance.doc.limitations": "retail only",
        },
        "version_tags": {"ordinance.risk_tier": "high", "ordinance.doc.limitations": "retail, EU"},
        "run_id": "r1",
        "params": {"C": "1.0", "max_iter": "200"},
        "metrics": {"auc": 0.8, "loss": float("nan")},
        "run_tags": {
            "mlflow.source.git.commit": "c0ffee",
            "mlflow.source.git.repoURL": "https://git.example/credit",
            "mlflow.source.name": "train.py",
            "mlflow.user": "alice",
        },
        "datasets": (
            DatasetInput("train", "5f9cf632", "s3://bank/train.parquet", "s3", "training", SHA),
            DatasetInput("holdout", "0a1b2c3d", "s3://bank/test.parquet", "s3", "evaluation", None),
        ),
    }
    base.update(over)
    return VersionFacts(**base)  # type: ignore[arg-type]


def test_mapping() -> None:
    doc, warnings = manifest_document(
        _facts(), ordinance_name="credit", owner=None, mlmodel=MLMODEL, evidence=[]
    )
    assert doc["model"] == {
        "name": "credit",
        "owner": "credit-team",
        "risk_tier": "high",
        "description": "Scores applications.",
    }
    assert doc["version"] == "3" and doc["created_at"] == "2026-03-01T12:00:00Z"
    lineage = doc["lineage"]
    assert lineage["code"] == {"repository": "https://git.example/credit", "commit": "c0ffee"}
    assert lineage["training_run"] == "runs:/r1"
    assert lineage["datasets"] == [
        {"name": "train", "uri": "s3://bank/train.parquet", "role": "training", "sha256": SHA},
        {"name": "holdout", "uri": "s3://bank/test.parquet", "role": "evaluation"},
    ]
    assert lineage["environment"] == {
        "mlflow": "3.1.0",
        "mlflow.source.git.repoURL": "https://git.example/credit",
        "mlflow.source.name": "train.py",
        "param.C": "1.0",
        "param.max_iter": "200",
        "python": "3.11.7",
        "sklearn": "1.5.0",
    }
    assert doc["metrics"] == {"auc": 0.8}
    # The version's ordinance.doc.* tag wins over the registered model's.
    assert doc["documentation"] == {"limitations": "retail, EU", "summary": "Scores applications."}
    assert len(warnings) == 2
    assert "holdout" in warnings[0] and "ordinance.dataset.holdout.sha256" in warnings[0]
    assert "loss" in warnings[1]


def test_owner_option_wins_and_missing_commit_or_run_is_a_warning() -> None:
    doc, warnings = manifest_document(
        _facts(run_tags={}, run_id=None, datasets=(), model_tags={}, version_tags={}),
        ordinance_name="c2",
        owner="risk",
        mlmodel={},
        evidence=[],
    )
    assert doc["model"]["owner"] == "risk" and doc["model"]["risk_tier"] == "limited"
    assert set(doc["lineage"]) == {"environment"}  # params only
    assert any("mlflow.source.git.commit" in w for w in warnings)
    assert any("no source run" in w for w in warnings)


def test_rendering_is_deterministic_and_ignores_aliases() -> None:
    a, _ = manifest_document(
        _facts(), ordinance_name="credit", owner=None, mlmodel=MLMODEL, evidence=[]
    )
    moved = _facts(aliases=("challenger",), params={"max_iter": "200", "C": "1.0"})
    b, _ = manifest_document(
        moved, ordinance_name="credit", owner=None, mlmodel=MLMODEL, evidence=[]
    )
    assert render_manifest(a) == render_manifest(b)
    assert render_manifest(a).startswith(MANIFEST_HEADER)


def test_generated_manifest_loads_with_the_real_schema(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text(yaml.safe_dump(MLMODEL))
    (tmp_path / "evidence" / "predictions").mkdir(parents=True)
    (tmp_path / "evidence" / "predictions" / "p.csv").write_text("y,yhat\n1,1\n")
    facts = _facts(
        run_tags={
            "mlflow.source.git.commit": "c0ffee",
            "ordinance.evidence.predictions": json.dumps(
                {"path": "eval/p.csv", "attributes": {"y_true": "y", "y_pred": "yhat"}}
            ),
        }
    )
    [ref] = facts.evidence
    doc, _ = manifest_document(
        facts,
        ordinance_name="credit",
        owner=None,
        mlmodel=MLMODEL,
        evidence=[(ref, "evidence/predictions/p.csv")],
    )
    path = tmp_path / "manifest.yaml"
    path.write_text(render_manifest(doc))
    resolved = load_manifest(path)
    assert resolved.lineage.training_run == "runs:/r1"
    assert [e.kind for e in resolved.evidence] == ["predictions"]
    assert resolved.evidence[0].attributes == {"y_true": "y", "y_pred": "yhat"}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"ordinance.evidence.Bad-Kind": "x.csv"}, "evidence kind must match"),
        ({"ordinance.evidence.predictions": "{not json"}, "invalid JSON"),
        ({"ordinance.evidence.predictions": '{"attributes": {}}'}, "expected"),
    ],
)
def test_bad_evidence_tags_are_input_errors(tags: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _ = _facts(run_tags=tags).evidence


def test_unknown_documentation_field_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown documentation field 'purpose'"):
        manifest_document(
            _facts(version_tags={"ordinance.doc.purpose": "x"}),
            ordinance_name="credit",
            owner=None,
            mlmodel={},
            evidence=[],
        )


def test_dataset_sources_and_local_digests(tmp_path: Path) -> None:
    f = tmp_path / "train.csv"
    f.write_bytes(b"a,b\n1,2\n")
    assert _local_sha256(f.as_uri()) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert _local_sha256(str(f)) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert _local_sha256("s3://bucket/train.csv") is None
    assert _local_sha256((tmp_path / "missing.csv").as_uri()) is None
    assert _source_uri('{"uri": "s3://b/t.parquet"}', "t", "d") == "s3://b/t.parquet"
    assert _source_uri('{"url": "https://x/y.csv"}', "t", "d") == "https://x/y.csv"
    assert _source_uri("{}", "t", "d1") == "mlflow-dataset:t@d1"

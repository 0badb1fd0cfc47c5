"""`ordinance import mlflow` against a real MLflow (SQLite tracking store + model registry).

A real scikit-learn run is logged with params, metrics, a dataset input, a git commit tag,
a prediction table and a model artifact, registered in MLflow, then imported into Ordinance;
the imported lineage is checked against the run. No mocks.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli

pytest.importorskip("mlflow")

# MLflow warns from inside its own code, none of it Ordinance's to fix: its SQLAlchemy store
# uses the ``noload`` strategy SQLAlchemy 2.1 deprecates, its pandas digest calls
# ``DataFrame.all`` positionally (pandas 4 deprecation), and it says a file: source matches
# two equal source classes; importing ``mlflow.pyfunc`` warns about its own ``Any`` type
# hints (the message starts with a colour code, hence the leading ``.*``). Each filter names one message; they are scoped to this module,
# and the rest of the suite keeps ``filterwarnings = error``.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
    pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments"),
    pytest.mark.filterwarnings("ignore:The specified dataset source can be interpreted"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType"),
    pytest.mark.slow,
]

COMMIT = "3f2c9a1e5b7d4c6a8e0f1b2c3d4e5f60718293a4"
REPO_URL = "https://git.example/credit/credit-model"


@dataclass
class Store:
    uri: str
    root: Path
    run_id: str
    train_csv: Path
    preds_csv: Path
    model: str = "credit"


def _log_version(root: Path, *, c: float, seed: int, experiment_id: str) -> str:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"income": rng.normal(50, 10, 200), "debt": rng.normal(10, 3, 200)})
    y = (x["income"] - 3 * x["debt"] + rng.normal(0, 5, 200) > 20).astype("float64")
    sex = np.where(rng.random(200) < 0.5, "f", "m")
    train_csv = root / f"train-{seed}.csv"
    x.assign(y=y).to_csv(train_csv, index=False)
    model = LogisticRegression(C=c, max_iter=200).fit(x, y)
    pred = model.predict(x)
    preds_csv = root / f"run-{seed}" / "predictions.csv"
    preds_csv.parent.mkdir()
    pd.DataFrame({"y": y.astype(int), "yhat": pred.astype(int), "sex": sex}).to_csv(
        preds_csv, index=False
    )
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({"C": c, "max_iter": 200})
        mlflow.log_metrics({"accuracy": float((pred == y).mean()), "auc": 0.81})
        ds = mlflow.data.from_pandas(
            x.assign(y=y), source=train_csv.as_uri(), name="credit-train", targets="y"
        )
        mlflow.log_input(ds, context="training")
        mlflow.set_tags(
            {
                "mlflow.source.git.commit": COMMIT,
                "mlflow.source.git.repoURL": REPO_URL,
                "ordinance.evidence.predictions": json.dumps(
                    {
                        "path": "eval/predictions.csv",
                        "attributes": {"y_true": "y", "y_pred": "yhat", "sensitive": ["sex"]},
                    }
                ),
            }
        )
        mlflow.log_artifact(str(preds_csv), artifact_path="eval")
        mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name="credit",
            serialization_format="skops",
        )
        return str(run.info.run_id)


@contextmanager
def tracking_store(root: Path) -> Iterator[tuple[str, Any, str]]:
    """A real MLflow tracking store and model registry (SQLite) under ``root``, with the
    registered model ``credit`` and one version logged: ``(uri, client, run_id)``."""
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_REGISTRY_URI", uri)
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
            exp = client.create_experiment("credit", artifact_location=(root / "art").as_uri())
            client.create_registered_model(
                "credit",
                tags={"ordinance.owner": "credit-risk-team", "ordinance.risk_tier": "high"},
                description="Scores consumer credit applications.",
            )
            yield uri, client, _log_version(root, c=1.0, seed=1, experiment_id=exp)
        finally:
            mlflow.set_tracking_uri("")
            mlflow.set_registry_uri("")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("mlflow")
    with tracking_store(root) as (uri, client, run_id):
        client.set_model_version_tag("credit", "1", "ordinance.doc.intended_use", "testing")
        client.set_registered_model_alias("credit", "champion", "1")
        yield Store(uri, root, run_id, root / "train-1.csv", root / "run-1" / "predictions.csv")


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _workspace(tmp_path: Path) -> Path:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    return home


def _import(home: Path, store: Store, *extra: str) -> list[dict[str, object]]:
    r = run_cli(
        "--home",
        home,
        "import",
        "mlflow",
        "--tracking-uri",
        store.uri,
        "--model",
        store.model,
        "--format",
        "json",
        *extra,
    )
    assert r.code == 0, r.err
    data = r.json()
    assert isinstance(data, list)
    return data


def test_imported_lineage_matches_the_run(tmp_path: Path, store: Store) -> None:
    import mlflow
    from mlflow import MlflowClient

    from ordinance.identity import compute_identity

    home = _workspace(tmp_path)
    [imported] = _import(home, store, "--version", "1")
    assert imported["created"] is True and imported["model"] == "credit"
    assert imported["mlflow"]["aliases"] == ["champion"]  # type: ignore[index]
    assert imported["warnings"] == []

    shown = run_cli("--home", home, "show", "credit@1", "--format", "json").json()
    run = MlflowClient(tracking_uri=store.uri).get_run(store.run_id)
    lineage = shown["lineage"]
    assert lineage["code"] == {"repository": REPO_URL, "commit": COMMIT}
    assert lineage["training_run"] == f"runs:/{store.run_id}"
    assert lineage["datasets"] == [
        {
            "name": "credit-train",
            "uri": store.train_csv.as_uri(),
            "sha256": _sha256(store.train_csv),
            "role": "training",
        }
    ]
    env = lineage["environment"]
    assert env["param.C"] == run.data.params["C"] == "1.0"
    assert env["param.max_iter"] == "200"
    assert env["sklearn"] and env["python"].startswith(f"{sys.version_info.major}.")
    assert env["mlflow"] == mlflow.__version__
    assert shown["metrics"] == pytest.approx(run.data.metrics)
    assert shown["model_info"]["owner"] == "credit-risk-team"
    assert shown["model_info"]["risk_tier"] == "high"
    assert shown["documentation"] == {
        "intended_use": "testing",
        "summary": "Scores consumer credit applications.",
    }
    assert shown["author"]

    # The identity is the model-signing root digest of exactly the files MLflow stores.
    download = mlflow.artifacts.download_artifacts(
        artifact_uri=MlflowClient(tracking_uri=store.uri).get_model_version_download_uri(
            "credit", "1"
        ),
        dst_path=str(tmp_path / "dl"),
    )
    expected = compute_identity(Path(download), name="credit").root_digest
    assert shown["identity"]["sha256"] == imported["identity"] == expected

    # The run artifact named by the ordinance.evidence tag is stored as evidence.
    [pred] = [e for e in shown["evidence"] if e["kind"] == "predictions"]
    assert pred["sha256"] == _sha256(store.preds_csv)
    assert pred["attributes"] == {"y_true": "y", "y_pred": "yhat", "sensitive": ["sex"]}


def test_reimport_is_a_noop_with_identical_manifest_bytes(tmp_path: Path, store: Store) -> None:
    home = _workspace(tmp_path)
    staging = tmp_path / "staging"
    [first] = _import(home, store, "--version", "1", "--staging", str(staging))
    manifest = Path(str(first["manifest"]))
    before = manifest.read_bytes()
    assert first["created"] is True and first["log_index"] is not None

    [again] = _import(home, store, "--version", "1", "--staging", str(staging))
    assert again["created"] is False and again["log_index"] is None
    assert manifest.read_bytes() == before
    assert again["manifest_sha256"] == first["manifest_sha256"]

    # Without --staging the (temporary) manifest has the same bytes, so it is a no-op too.
    [third] = _import(home, store, "--version", "1")
    assert third["created"] is False and third["manifest_sha256"] == first["manifest_sha256"]
    # One registration entry in the audit log, however often the version was imported.
    r = run_cli("--home", home, "log", "show", "--format", "json")
    assert r.code == 0, r.err
    assert [e["subject"]["name"] for e in r.json()] == ["credit@1"]


def test_import_all_versions_then_changed_facts_are_refused(tmp_path: Path, store: Store) -> None:
    import mlflow

    home = _workspace(tmp_path)
    assert [v["version"] for v in _import(home, store)] == ["1"]

    # A second version appears in MLflow; importing the model again adds only it.
    exp = mlflow.MlflowClient(tracking_uri=store.uri).get_experiment_by_name("credit")
    _log_version(store.root, c=0.5, seed=2, experiment_id=exp.experiment_id)
    try:
        out = _import(home, store)
        assert [(v["version"], v["created"]) for v in out] == [("1", False), ("2", True)]
        assert run_cli("--home", home, "show", "credit@2").code == 0

        # Changing what a version was registered with is refused (a record never changes).
        mlflow.MlflowClient(tracking_uri=store.uri).set_model_version_tag(
            "credit", "2", "ordinance.doc.limitations", "changed after import"
        )
        r = run_cli(
            "--home", home, "import", "mlflow", "--tracking-uri", store.uri, "--model", "credit",
            "--version", "2",
        )  # fmt: skip
        assert r.code == 2 and "already registered from a different manifest" in r.err
    finally:
        mlflow.MlflowClient(tracking_uri=store.uri).delete_model_version("credit", "2")


def test_unknown_model_and_version_are_input_errors(tmp_path: Path, store: Store) -> None:
    home = _workspace(tmp_path)
    base = ("--home", home, "import", "mlflow", "--tracking-uri", store.uri)
    r = run_cli(*base, "--model", "nope")
    assert r.code == 2 and r.err.startswith("ordinance: error: MLflow:"), r.err
    r = run_cli(*base, "--model", "credit", "--version", "99")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    r = run_cli(*base, "--model", "credit", "--as", "bad name!")
    assert r.code == 2 and "--as NAME" in r.err


def test_ordinance_name_and_owner_options(tmp_path: Path, store: Store) -> None:
    home = _workspace(tmp_path)
    [out] = _import(home, store, "--version", "1", "--as", "credit-scorer", "--owner", "risk")
    assert out["model"] == "credit-scorer"
    shown = run_cli("--home", home, "show", "credit-scorer@1", "--format", "json").json()
    assert shown["model_info"]["owner"] == "risk"


def test_module_imports_mlflow_lazily_and_says_which_extra_is_missing() -> None:
    code = (
        "import sys\n"
        "import ordinance.integrations.mlflow as m\n"
        "assert 'mlflow' not in sys.modules, 'imported mlflow eagerly'\n"
        "assert 'click' not in sys.modules, 'the core imported click'\n"
        "sys.modules['mlflow'] = None\n"
        "from ordinance.errors import MissingExtraError\n"
        "try:\n"
        "    m.client('sqlite:///x.db')\n"
        "except MissingExtraError as e:\n"
        "    print(e.exit_code, e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == "3 this needs the optional 'mlflow' package: pip install 'ordinance[mlflow]'"
    )


def _silent_server() -> tuple[socket.socket, int]:
    """A loopback port that accepts connections and never answers (a hung tracking server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, int(s.getsockname()[1])


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_unreachable_tracking_server_is_exit_3_within_10_seconds(tmp_path: Path, kind: str) -> None:
    home = tmp_path / "ws"
    assert run_cli("--home", home, "init").code == 0
    if kind == "silent":
        sock, port = _silent_server()
    else:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
        probe.close()  # nothing listens there now
    try:
        t0 = time.monotonic()
        r = run_cli(
            "--home",
            home,
            "import",
            "mlflow",
            "--tracking-uri",
            f"http://127.0.0.1:{port}",
            "--model",
            "credit",
        )
        elapsed = time.monotonic() - t0
    finally:
        if kind == "silent":
            sock.close()
    assert r.code == 3, r.err
    assert "unreachable" in r.err
    assert elapsed < 10

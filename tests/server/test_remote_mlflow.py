"""`ordinance import mlflow` in server mode: MLflow is read from the client's machine (where
the tracking store is reachable), the staged manifest and its files go to the server like any
`register`, and the server records the version: the same facts as a local import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import remote_cli
from team_support import Team

from helpers import run_cli

pytest.importorskip("mlflow")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[str]:
    from integrations.test_mlflow import tracking_store

    root = tmp_path / "mlflow"
    root.mkdir()
    with tracking_store(root) as (uri, _client, _run):
        yield uri


def test_import_mlflow_through_the_server(team: Team, tracking: str, tmp_path: Path) -> None:
    args = ("import", "mlflow", "--tracking-uri", tracking, "--model", "credit", "--format", "json")
    r = remote_cli(team.url, team.ci_token, *args)
    assert r.code == 0, r.err
    [imported] = r.json()
    assert imported["created"] is True and imported["log_index"] is not None
    shown = run_cli("--home", team.home, "show", "credit@1", "--format", "json").json()
    assert shown["identity"]["sha256"] == imported["identity"]
    assert shown["lineage"]["training_run"].startswith("runs:/")
    assert [e["kind"] for e in shown["evidence"] if e["kind"] == "predictions"] == ["predictions"]
    # importing again is a no-op, through the server as locally
    again = remote_cli(team.url, team.ci_token, *args)
    assert again.code == 0, again.err
    assert again.json()[0]["created"] is False
    assert run_cli("--home", team.home, "log", "verify", "--deep").code == 0

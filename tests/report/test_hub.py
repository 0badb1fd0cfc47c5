"""The Hugging Face card: Hub-valid metadata that huggingface_hub parses offline, the
template's sections, and a public mode without internal e-mails, URLs or run ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ordinance.report import build_card_context, render_document
from ordinance.report.hub import HUB_METRICS, hf_metadata, hub_dataset_id, public_context
from ordinance.workspace import Workspace

hub = pytest.importorskip("huggingface_hub")


@pytest.fixture(scope="module")
def card(demo_home: Path) -> dict[str, object]:
    with Workspace.open(demo_home) as ws:
        return build_card_context(ws, "credit-risk", "1.1.0")


def _front(md: str) -> dict[str, object]:
    _, front, _ = md.split("---\n", 2)
    data: dict[str, object] = yaml.safe_load(front)
    return data


def test_metadata_is_hub_valid_and_parses_offline(card: dict[str, object]) -> None:
    md = render_document("card", card, "md").decode()
    meta = _front(md)
    assert meta["library_name"] == "sklearn"
    assert meta["pipeline_tag"] == "tabular-classification"
    assert meta["license"] == "apache-2.0"
    assert set(meta["metrics"]) <= set(HUB_METRICS.values())  # type: ignore[arg-type]
    assert "roc_auc" in meta["metrics"]  # type: ignore[operator]
    assert "verified" not in md.split("---\n", 2)[1]
    # local data-set names are not Hub ids: no datasets list, no model-index without one
    assert "datasets" not in meta and "model-index" not in meta
    parsed = hub.ModelCard(md)
    data = parsed.data.to_dict()
    assert data["library_name"] == "sklearn" and data["pipeline_tag"] == "tabular-classification"
    hub.ModelCardData(**data)  # the library's own checks on the fields


def test_model_index_with_a_hub_dataset_parses_into_eval_results(
    card: dict[str, object],
) -> None:
    lineage = dict(card["lineage"])  # type: ignore[call-overload]
    lineage["datasets"] = [
        *lineage["datasets"],
        {
            "name": "credit",
            "uri": "hf://datasets/acme/credit-test",
            "sha256": "0" * 64,
            "role": "evaluation",
        },
    ]
    ctx = {**card, "lineage": lineage}
    meta = hf_metadata(ctx)
    assert meta["datasets"] == ["acme/credit-test"]
    md = "---\n" + yaml.safe_dump(meta) + "---\n# card\n"
    parsed = hub.ModelCard(md)
    results = parsed.data.eval_results
    assert results and {r.metric_type for r in results} <= set(HUB_METRICS.values())
    assert all(r.dataset_type == "acme/credit-test" for r in results)
    assert all(r.verified is None for r in results)


def test_hub_dataset_ids() -> None:
    assert hub_dataset_id("hf://datasets/org/name") == "org/name"
    assert hub_dataset_id("https://huggingface.co/datasets/org/name") == "org/name"
    assert hub_dataset_id("file:test.csv") is None
    assert hub_dataset_id("s3://bucket/x") is None


def test_template_sections(card: dict[str, object]) -> None:
    md = render_document("card", card, "md").decode()
    for heading in ("## How to get started with the model", "## Training procedure"):
        assert heading in md
    assert "skops.io" in md and "trusted=" in md
    assert "## Environmental impact" not in md  # not recorded for the demo: not invented
    doc = {**card["documentation"], "co2_eq_emissions": "12.5", "hardware": "1 CPU"}  # type: ignore[dict-item]
    md = render_document("card", {**card, "documentation": doc}, "md").decode()
    assert "## Environmental impact" in md and "12.5" in md
    assert _front(md)["co2_eq_emissions"] == {"emissions": 12.5}


def test_public_card_leaves_out_internal_details(card: dict[str, object]) -> None:
    full = render_document("card", card, "md").decode()
    for secret in ("@bank.example", "git.bank.example", "mlflow-runs:"):
        assert secret in full, secret  # the internal card has them
    public = public_context(card)
    for fmt in ("md", "html", "json"):
        text = render_document("card", public, fmt).decode()
        for secret in ("@bank.example", "git.bank.example", "mlflow-runs:", "file:train.csv"):
            assert secret not in text, (fmt, secret)
    assert (
        hub.ModelCard(render_document("card", public, "md").decode()).data.library_name == "sklearn"
    )

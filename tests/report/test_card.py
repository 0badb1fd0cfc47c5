"""Model cards: Mitchell et al.'s sections, nothing invented, Hugging Face–compatible."""

from __future__ import annotations

import json

import pytest

from ordinance.report import build_card_context, render_document
from ordinance.report.context import CARD_METRICS
from ordinance.workspace import Workspace


def test_markdown_card_round_trips_through_huggingface_model_card(demo_ws: Workspace) -> None:
    hub = pytest.importorskip("huggingface_hub")
    ctx = build_card_context(demo_ws, "credit-risk", "1.1.0")
    text = render_document("card", ctx, "md").decode()
    card = hub.ModelCard(text)  # parses offline; no hub call
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0"
    # the demo's data sets are local files, not Hub datasets: no `datasets`, and no
    # model-index (the Hub needs a dataset id there); metrics under Hub ids only
    assert "datasets" not in data and "model-index" not in data
    assert data["metrics"] == ["accuracy", "roc_auc"]  # auc → roc_auc; approval_rate has none
    assert "ordinance" in data["tags"] and "credit" in data["tags"]
    assert data["ordinance"]["identity_sha256"] == ctx["details"]["identity"]["sha256"]
    assert card.data.eval_results is None
    # and back: the hub's own serialization parses to the same metadata
    again = hub.ModelCard(str(card))
    assert again.data.to_dict() == data
    assert "## Quantitative analyses" in card.text and "#### Intersectional" in card.text


def test_missing_documentation_is_shown_as_missing(evil_ws: Workspace) -> None:
    ctx = build_card_context(evil_ws, "evil-model", "1.0.0")
    assert ctx["documentation"]["ethical_considerations"] is None
    assert ctx["details"]["license"] is None
    html = render_document("card", ctx, "html").decode()
    assert html.count("Not documented") >= 6
    md = render_document("card", ctx, "md").decode()
    assert "## Ethical considerations\n\n*Not documented*" in md
    front = md.split("\n---\n", 1)[0]
    assert "license" not in front and "base_model" not in front  # never invented


def test_card_quantitative_analyses_are_disaggregated_and_intersectional(
    demo_ws: Workspace,
) -> None:
    from ordinance.metrics.fairness import compute_fairness

    ctx = build_card_context(demo_ws, "credit-risk", "1.1.0")
    (analysis,) = ctx["fairness"]
    assert analysis["error"] is None
    labels = [g["label"] for g in analysis["groupings"]]
    assert labels == ["sex", "age_band", "ethnicity", "sex × age_band × ethnicity"]
    v = demo_ws.registry().get_version("credit-risk", "1.1.0")
    (pred,) = v.evidence_of("predictions")
    expected = compute_fairness(
        demo_ws.evidence.open_path(pred.sha256),
        y_true="default",
        y_pred="predicted_default",
        sensitive=["sex", "age_band", "ethnicity"],
    )
    inter = analysis["groupings"][-1]
    assert len(inter["groups"]) == len(expected.by_group)
    for g in expected.by_group:
        row = next(r for r in inter["groups"] if tuple(r["group"]) == g.group)
        assert row["count"] == g.count and row["small"] == g.small
        assert row["metrics"] == {m: g.metrics[m] for m in CARD_METRICS}
    html = render_document("card", ctx, "html").decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == sum(
        len(g["charts"]) for g in analysis["groupings"]
    ) + len(ctx["explainability"]) + sum(len(o["charts"]) for o in ctx["outcomes"])
    assert 'role="img"' in html and "<title id=" in html


def test_json_card_is_the_context(demo_ws: Workspace) -> None:
    ctx = build_card_context(demo_ws, "credit-risk", "1.1.0")
    data = json.loads(render_document("card", ctx, "json"))
    assert data == json.loads(json.dumps(ctx))
    assert data["schema"] == "https://ordinance.dev/model-card/v1"
    assert data["governance"]["stage"] == "production"


def test_html_is_accessible_and_self_contained(demo_ws: Workspace) -> None:
    html = render_document("card", build_card_context(demo_ws, "credit-risk"), "html").decode()
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<th scope="col">' in html and "<caption>" in html
    assert '<nav class="toc" aria-label="Contents">' in html
    for needle in ("http://", "https://"):
        refs = [part for part in html.split(needle)[1:]]
        # the only absolute URLs are the SVG namespace and recorded data (repository URLs)
        assert all(r.startswith(("www.w3.org/2000/svg", "git.bank.example")) for r in refs), refs
    assert "<link" not in html and "<script" not in html and "src=" not in html

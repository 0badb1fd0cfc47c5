"""The hand-written SVG bar chart: deterministic, escaped, accessible, well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ordinance.charts import bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_deterministic_accessible_and_escaped() -> None:
    bars = [("<script>&", 0.5), ('a "quoted" group', -0.25), ("no negatives", None)]
    svg = bar_chart(bars, title="FPR by group <&>", description="d")
    assert svg == bar_chart(bars, title="FPR by group <&>", description="d")
    root = ET.fromstring(svg)  # well-formed XML despite the hostile labels
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "FPR by group <&>"
    assert root.get("aria-labelledby") == f"{title.get('id')} {root.find(f'{SVG}desc').get('id')}"  # type: ignore[union-attr]
    assert "<script>" not in svg
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "undefined" in texts and "0.500" in texts and "-0.250" in texts
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == 2  # the undefined value has no bar, not a zero-width one
    widths = [float(r.get("width", "0")) for r in rects]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.02)  # coordinates have 2 decimals


def test_ids_differ_between_charts_so_pages_can_inline_several() -> None:
    a = ET.fromstring(bar_chart([("x", 1.0)], title="a"))
    b = ET.fromstring(bar_chart([("x", 1.0)], title="b"))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")


@pytest.mark.parametrize("bars", [[], [("x", float("nan"))], [("x", float("inf"))]])
def test_rejects_empty_or_non_finite(bars: list[tuple[str, float | None]]) -> None:
    with pytest.raises(ValueError):
        bar_chart(bars, title="t")

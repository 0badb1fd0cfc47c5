"""``confidence_bound: optimistic``: fail only when the whole interval is beyond the threshold."""

from __future__ import annotations

from pathlib import Path

from ordinance.policy import Status, evaluate, load_pack

from .conftest import Builder, write

PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: bounds, version: "1"}
rules:
  - id: fpr-gap
    type: fairness.threshold
    params: {metric: false_positive_rate, aggregate: difference, max: MAX,
             sensitive: [ethnicity], use_confidence_bound: true, confidence_bound: BOUND}
"""


def _finding(build: Builder, tmp_path: Path, bound: str, limit: float):  # type: ignore[no-untyped-def]
    text = PACK.replace("MAX", str(limit)).replace("BOUND", bound)
    pack = load_pack(write(tmp_path / f"{bound}-{limit}.yaml", text))
    return evaluate(build.version(biased=True), "staging", [pack], build.ctx()).findings[0]


def test_optimistic_bound_fails_only_if_the_lower_bound_exceeds_the_threshold(
    build: Builder, tmp_path: Path
) -> None:
    probe = _finding(build, tmp_path, "optimistic", 0.99)
    low, high = probe.result.measured["by_sensitive"]["ethnicity"]["ci"]
    value = probe.result.measured["value"]
    assert low < value < high
    assert probe.result.measured["bound"] == low
    assert probe.result.threshold["confidence_bound"] == "optimistic"
    between = round((value + low) / 2, 4)  # estimate above it, lower bound below it
    assert _finding(build, tmp_path, "optimistic", between).status == Status.PASS
    assert _finding(build, tmp_path, "pessimistic", between).status == Status.FAIL
    below = round(low * 0.9, 4)
    optimistic = _finding(build, tmp_path, "optimistic", below)
    assert optimistic.status == Status.FAIL
    assert "lower 95% bound" in optimistic.result.detail

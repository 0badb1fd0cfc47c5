"""Waivers: scoped, expiring, never a pass, reported when they do not apply."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ordinance.errors import PolicyLoadError
from ordinance.policy import Status, Waiver, evaluate, load_pack, load_waivers
from ordinance.policy.waivers import version_matches

from .conftest import NOW, Builder, write

PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: w}
rules:
  - id: fpr
    type: fairness.threshold
    params: {metric: false_positive_rate, aggregate: difference, max: 0.1}
  - id: auc
    type: metrics.threshold
    params: {metric: auc, min: 0.7}
"""


def _waiver(**kw: object) -> Waiver:
    fields: dict[str, object] = {
        "id": "W-1",
        "rule": "fpr",
        "model": "credit-risk",
        "versions": "1.0.0",
        "justification": "Manual review of declines until retraining.",
        "approved_by": "risk@bank.example",
        "expires_at": NOW + timedelta(days=30),
    }
    fields.update(kw)
    return Waiver(**fields)  # type: ignore[arg-type]


@pytest.fixture
def pack(tmp_path: Path):
    return load_pack(write(tmp_path / "w.yaml", PACK))


def test_waiver_turns_failure_into_waived_not_pass(build: Builder, pack) -> None:
    ev = evaluate(build.version(biased=True), "production", [pack], build.ctx(waivers=[_waiver()]))
    f = ev.findings[0]
    assert f.status == Status.WAIVED and f.waiver is not None and f.waived_status == Status.FAIL
    assert ev.verdict == "pass"
    assert ev.waivers[0].status == "applied" and ev.waivers[0].rules == ("w/fpr",)
    d = ev.to_dict()["results"][0]
    assert d["status"] == "waived" and d["waiver"]["id"] == "W-1"
    assert d["waiver"]["waived_status"] == "fail"


@pytest.mark.parametrize(
    ("waiver", "status", "words"),
    [
        ({"expires_at": NOW - timedelta(seconds=1)}, "expired", "expired"),
        ({"versions": "2.*"}, "out_of_scope", "for versions 2.*"),
        ({"model": "fraud-*"}, "out_of_scope", "for model fraud-*"),
        ({"stages": ("staging",)}, "out_of_scope", "for stages staging"),
        ({"rule": "nope"}, "unknown_rule", "no rule 'nope'"),
        ({"approved_at": NOW + timedelta(days=1)}, "not_yet_valid", "approved only from"),
    ],
)
def test_waivers_that_do_not_apply_are_reported(
    build: Builder, pack, waiver: dict[str, object], status: str, words: str
) -> None:
    ev = evaluate(
        build.version(biased=True), "production", [pack], build.ctx(waivers=[_waiver(**waiver)])
    )
    assert ev.findings[0].status == Status.FAIL and ev.verdict == "fail"
    assert ev.waivers[0].status == status and words in ev.waivers[0].detail


def test_waiver_on_a_passing_rule_is_unused(build: Builder, pack) -> None:
    ev = evaluate(
        build.version(),
        "production",
        [pack],
        build.ctx(waivers=[_waiver(), _waiver(id="W-2", rule="w/auc")]),
    )
    assert [f.status for f in ev.findings] == [Status.PASS, Status.PASS]
    assert [w.status for w in ev.waivers] == ["unused", "unused"]
    assert "w/fpr is pass" in ev.waivers[0].detail


def test_second_waiver_for_the_same_rule_is_unused(build: Builder, pack) -> None:
    ev = evaluate(
        build.version(biased=True),
        "production",
        [pack],
        build.ctx(waivers=[_waiver(), _waiver(id="W-2")]),
    )
    assert [w.status for w in ev.waivers] == ["applied", "unused"]
    assert "already waived by W-1" in ev.waivers[1].detail


@pytest.mark.parametrize(
    ("spec", "version", "ok"),
    [
        ("1.0.0", "1.0.0", True),
        ("1.0.0", "1.0.1", False),
        ("1.0.*", "1.0.7", True),
        (">=1.0.0,<1.10", "1.9.3", True),
        (">=1.0.0,<1.10", "1.10.0", False),
        ("!=1.2.0", "1.2.0", False),
        (">1.2", "1.10", True),
    ],
)
def test_version_ranges(spec: str, version: str, ok: bool) -> None:
    assert version_matches(spec, version) is ok


def test_waiver_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "waivers.yaml",
        """\
apiVersion: ordinance/v1
kind: Waivers
waivers:
  - id: W-1
    rule: w/fpr
    model: credit-risk
    versions: ">=1.0.0,<1.1.0"
    stages: [staging, production]
    justification: Manual review of declines until retraining.
    approved_by: risk@bank.example
    approved_at: 2026-02-01
    expires: 2026-03-31
""",
    )
    [w] = load_waivers(path)
    assert w.expires_at.isoformat() == "2026-04-01T00:00:00+00:00"  # valid through the day
    assert w.origin == str(path) and len(w.digest) == 64
    bad = write(tmp_path / "bad.yaml", path.read_text().replace('">=1.0.0,<1.1.0"', '"~=1.0"'))
    with pytest.raises(PolicyLoadError, match=r"bad\.yaml:7:5: waivers\.0\.versions: .*range"):
        load_waivers(bad)
    short = write(
        tmp_path / "s.yaml",
        path.read_text().replace("Manual review of declines until retraining.", "ok"),
    )
    with pytest.raises(PolicyLoadError, match=r"s\.yaml:9:5: waivers\.0\.justification"):
        load_waivers(short)

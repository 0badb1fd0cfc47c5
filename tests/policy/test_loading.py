"""Loading packs: one located line per problem; extends, overrides, disable, plugins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ordinance.errors import EXIT_USAGE, PolicyLoadError
from ordinance.policy import Status, evaluate, load_pack, load_packs, shipped_pack_path
from ordinance.policy.rules import clear_plugin_cache, rule_type_names

from .conftest import Builder, write

HEAD = "apiVersion: ordinance/v1\nkind: PolicyPack\nmetadata: {name: p}\n"
RULE = "  - id: auc\n    type: metrics.threshold\n    params: {metric: auc, min: 0.7}\n"


def _err(tmp_path: Path, text: str, name: str = "p.yaml") -> str:
    path = write(tmp_path / name, text)
    with pytest.raises(PolicyLoadError) as info:
        load_pack(path)
    assert info.value.exit_code == EXIT_USAGE
    return info.value.message.replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + "rules:\n" + RULE + "bogus: 1\n", "p.yaml:8:1: bogus: unknown field"),
        (
            HEAD + "rules:\n  - id: a\n    type: nope.rule\n",
            "p.yaml:6:5: rules.0.type: unknown rule type 'nope.rule'",
        ),
        (
            HEAD
            + "rules:\n  - id: a\n    type: metrics.threshold\n    params: {metric: auc, min: 0.9, max: 0.1}\n",
            "p.yaml:7:5: rules.0.params: Value error, min 0.9 is greater than max 0.1",
        ),
        (
            HEAD
            + "rules:\n  - id: a\n    type: fairness.threshold\n    params: {metric: selection_rate, aggregate: ratio, max: 0.2}\n",
            "p.yaml:7:5: rules.0.params: Value error, aggregate 'ratio' takes a 'min'",
        ),
        (
            HEAD
            + "rules:\n  - id: a\n    type: metrics.threshold\n    params:\n      metric: auc\n      min: .nan\n",
            "p.yaml:9:7: rules.0.params.min: Input should be a finite number",
        ),
        (
            HEAD
            + "rules:\n  - id: a\n    type: evidence.fresh\n    params: {kind: x, max_age_days: 0}\n",
            "p.yaml:7:23: rules.0.params.max_age_days: Input should be greater than 0",
        ),
        (
            HEAD + "rules:\n" + RULE + RULE,
            "p.yaml:8:5: rules.1.id: duplicate rule id 'auc' (first at line 5)",
        ),
        (
            HEAD + "rules:\n" + RULE + "    severity: fatal\n",
            "p.yaml:8:5: rules.0.severity: Input should be 'block' or 'warn'",
        ),
        (HEAD + "rules: []\n", "p.yaml:4:1: rules: the pack has no rules"),
        (
            HEAD + "rules:\n  - id: a\n    type: metrics.threshold\n    params: [1, 2]\n",
            "p.yaml:7:5: rules.0.params: Input should be a valid dictionary",
        ),
        (
            HEAD
            + "rules:\n  - id: a\n    type: metrics.threshold\n    params: {metric: auc, min: 0.7, extra: 1}\n",
            "p.yaml:7:37: rules.0.params.extra: unknown field",
        ),
        (HEAD + "rules:\n  - id: a\n   type: x\n", "p.yaml:6:4: invalid YAML"),
        ("apiVersion: ordinance/v2\n", "p.yaml:1:1: apiVersion: Input should be 'ordinance/v1'"),
        ("- 1\n- 2\n", "p.yaml:1:1: Input should be a valid dictionary"),
        (HEAD + "metadata: {name: q}\nrules: []\n", "p.yaml:4:1: metadata: duplicate key"),
        (HEAD + "rules:\n\x1f" + RULE, "p.yaml:5:1: invalid YAML: control character #x001f"),
        (HEAD + "rules: &a [*a]\n", "p.yaml:4:12: invalid YAML: recursive alias"),
    ],
)
def test_load_errors_name_file_line_column(tmp_path: Path, text: str, expected: str) -> None:
    assert _err(tmp_path, text).startswith(expected)


def test_extends_override_patch_disable(tmp_path: Path, build: Builder) -> None:
    write(
        tmp_path / "base.yaml",
        HEAD.replace("name: p", "name: base")
        + "rules:\n"
        + RULE
        + """\
  - id: card
    type: documentation.required
    params: {fields: [summary]}
    references: [base-ref]
  - id: lineage
    type: lineage.required
    params: {fields: [code]}
""",
    )
    child = write(
        tmp_path / "sub" / "child.yaml",
        HEAD.replace("name: p", "name: child")
        + """\
extends: [../base.yaml]
disable: [lineage]
rules:
  - id: auc
    params: {min: 0.9}
    severity: warn
  - id: card
    type: documentation.required
    params: {fields: [limitations]}
""",
    )
    pack = load_pack(child)
    assert [r.id for r in pack.rules] == ["auc", "card"]
    auc, card = pack.rules
    assert dict(auc.params) == {"metric": "auc", "min": 0.9} and auc.severity == "warn"
    assert card.references == ()  # replaced, not patched
    assert [s.uri for s in pack.extends] == [str(tmp_path / "sub" / "../base.yaml")]
    f = evaluate(build.version(), "staging", [pack], build.ctx()).findings[0]
    assert f.status == Status.WARN and "min 0.9" in f.result.detail


def test_extends_errors(tmp_path: Path) -> None:
    a = HEAD.replace("name: p", "name: a") + "extends: [b.yaml]\nrules:\n" + RULE
    write(
        tmp_path / "b.yaml",
        HEAD.replace("name: p", "name: b") + "extends: [a.yaml]\nrules:\n" + RULE,
    )
    msg = _err(tmp_path, a, "a.yaml")
    assert msg.startswith("b.yaml:4:11: extends.0: extends cycle:")
    assert _err(tmp_path, HEAD + "extends: [missing.yaml]\nrules:\n" + RULE).startswith(
        "p.yaml:4:11: extends.0: policy file"
    )
    assert _err(tmp_path, HEAD + "extends: ['ordinance:nope']\nrules:\n" + RULE).startswith(
        "p.yaml:4:11: extends.0: no shipped pack 'ordinance:nope'"
    )
    assert _err(
        tmp_path, HEAD + "extends: ['ordinance:baseline']\ndisable: [typo]\nrules:\n" + RULE
    ).startswith("p.yaml:5:11: disable.0: no inherited rule 'typo' to disable")
    assert _err(tmp_path, HEAD + "rules:\n  - id: lone\n    params: {}\n").startswith(
        "p.yaml:5:5: rules.0.id: rule 'lone' overrides no inherited rule, so it needs a 'type'"
    )


def test_self_extends_is_a_cycle(tmp_path: Path) -> None:
    msg = _err(tmp_path, HEAD + "extends: [p.yaml]\nrules:\n" + RULE)
    assert msg.startswith("p.yaml:4:11: extends.0: extends cycle")


def test_scopes_accumulate_through_extends(tmp_path: Path, build: Builder) -> None:
    child = write(
        tmp_path / "c.yaml",
        HEAD + "extends: ['ordinance:eu-ai-act-high-risk']\n"
        "scope: {models: ['fraud-*']}\nrules:\n" + RULE,
    )
    pack = load_pack(child)
    ev = evaluate(build.version(), "staging", [pack], build.ctx())
    f = next(f for f in ev.findings if f.spec.id == "art10-datasheet")
    assert f.status == Status.NOT_APPLICABLE and "fraud-*" in f.result.detail
    low = evaluate(
        build.version(risk_tier="minimal", name="fraud-x"), "staging", [pack], build.ctx()
    )
    f = next(f for f in low.findings if f.spec.id == "art10-datasheet")
    assert f.status == Status.NOT_APPLICABLE and "risk tier minimal" in f.result.detail


def test_duplicate_pack_names(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", HEAD + "rules:\n" + RULE)
    write(tmp_path / "b.yaml", HEAD + "rules:\n" + RULE)
    with pytest.raises(PolicyLoadError, match="pack name 'p' is also the name of"):
        load_packs(["a.yaml", "b.yaml"], base=tmp_path)


def test_shipped_packs_are_found() -> None:
    path = shipped_pack_path("baseline")
    assert path is not None and path.name == "baseline.yaml"
    assert load_pack("ordinance:baseline").uri == "ordinance:baseline"


def test_entry_point_plugin_rule_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: Builder
) -> None:
    """A package adds a rule type through the ``ordinance.rules`` entry-point group."""
    site = tmp_path / "site"
    write(
        site / "acme_rules.py",
        """\
from typing import ClassVar
from pydantic import BaseModel, ConfigDict
from ordinance.policy import RuleResult


class TagParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    tag: str


class HasTag:
    type_name: ClassVar[str] = "acme.has_tag"
    Params: ClassVar[type[BaseModel]] = TagParams

    def __init__(self, params):
        self.params = params

    def evaluate(self, ctx):
        ok = self.params.tag in ctx.version.model.tags
        return RuleResult.check(ok, f"tag {self.params.tag}", measured=list(ctx.version.model.tags))

    def describe(self):
        return f"the model is tagged {self.params.tag}"
""",
    )
    write(
        site / "acme_rules-1.0.dist-info" / "METADATA",
        "Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n",
    )
    write(
        site / "acme_rules-1.0.dist-info" / "entry_points.txt",
        "[ordinance.rules]\nacme.has_tag = acme_rules:HasTag\nacme.broken = acme_rules:Missing\n",
    )
    monkeypatch.syspath_prepend(str(site))
    clear_plugin_cache()
    try:
        assert "acme.has_tag" in rule_type_names()
        pack = load_pack(
            write(
                tmp_path / "p.yaml",
                HEAD
                + """\
rules:
  - id: tagged
    type: acme.has_tag
    params: {tag: credit}
""",
            )
        )
        [f] = evaluate(build.version(), "staging", [pack], build.ctx()).findings
        assert f.status == Status.PASS and f.result.measured == ["credit"]
        msg = _err(tmp_path, HEAD + "rules:\n  - id: x\n    type: acme.broken\n", "b.yaml")
        assert msg.startswith("b.yaml:6:5: rules.0.type: rule type 'acme.broken': plugin")
        msg = _err(
            tmp_path, HEAD + "rules:\n  - id: x\n    type: acme.has_tag\n    params: {}\n", "c.yaml"
        )
        assert msg.startswith("c.yaml:7:5: rules.0.params.tag: required field is missing")
    finally:
        sys.modules.pop("acme_rules", None)
        monkeypatch.undo()
        clear_plugin_cache()

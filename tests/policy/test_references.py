"""Every regulatory reference in every shipped pack is a real provision with its real title;
role names agree across the packs, the docs and the demo (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ordinance.demo import DEMO_ROSTER
from ordinance.policy import load_pack
from ordinance.policy.references import check_reference, reference_table

ROOT = Path(__file__).resolve().parents[2]
PACKS = sorted((ROOT / "policies").glob("*.yaml"))


def test_the_table_holds_the_provisions_the_issue_lists() -> None:
    t = reference_table()
    assert set(t.eu_articles) == {*range(8, 20), 26, 27, 43, 47, 49, 72, 73}
    assert set(t.annex_iv) == set(range(1, 10))
    assert list(t.sr_sections) == ["I", "II", "III", "IV", "V", "VI", "VII"]
    assert t.sr_sections["V"] == "Model Validation"
    assert t.sr_sections["VI"] == "Governance, Policies, and Controls"
    assert t.nist_functions == {"GOVERN": 6, "MAP": 5, "MEASURE": 4, "MANAGE": 4}
    assert t.eu_articles[14] == "Human oversight" and t.eu_articles[9] == "Risk management system"


@pytest.mark.parametrize("path", PACKS, ids=[p.stem for p in PACKS])
def test_every_reference_in_a_shipped_pack_holds(path: Path) -> None:
    pack = load_pack(f"ordinance:{path.stem}")
    problems = [
        f"{pack.name}/{rule.id}: {why}"
        for rule in pack.rules
        for ref in rule.references
        if (why := check_reference(ref)) is not None
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("SR 11-7 §IV Model validation", "section IV is titled"),  # the old off-by-one
        ("SR 11-7 §VIII Conclusion", "no section VIII"),
        ("SR 11-7 §V Model Validation (model inventory)", "does not cover"),
        ("EU AI Act Art. 14 Quality management system", "titled 'Human oversight'"),
        ("EU AI Act Art. 20 Corrective actions", "not in the reference table"),
        ("EU AI Act Annex IV 10 Something", "no item 10"),
        ("EU AI Act Art. 10", "not a reference"),  # a bare number: no title to check
        ("NIST AI RMF MEASURE 5.1 Anything", "4 categories"),
        ("NIST AI RMF MEASURE 2.11 Accuracy", "titled 'Fairness and bias evaluated'"),
        ("NIST AI RMF MAP 1.1 Context", "not in the reference table"),
        ("NIST AI RMF MEASURE (fast)", "not a NIST AI RMF trustworthiness"),
        ("ECOA / Regulation B", "not a reference"),
    ],
)
def test_wrong_references_are_named(ref: str, why: str) -> None:
    problem = check_reference(ref)
    assert problem is not None and why in problem


def test_good_references_pass() -> None:
    for ref in (
        "EU AI Act Art. 10(2)(f) Data and data governance",
        "EU AI Act Art. 72 Post-market monitoring by providers and post-market monitoring plan",
        "EU AI Act Annex IV 5 risk management system",
        "SR 11-7 §VI Governance, Policies, and Controls (model inventory)",
        "NIST AI RMF MEASURE 2.11 Fairness and bias evaluated",
        "NIST AI RMF GOVERN (accountable and transparent)",
    ):
        assert check_reference(ref) is None, ref


def _pack_roles() -> set[str]:
    roles: set[str] = set()
    for path in PACKS:
        for rule in load_pack(f"ordinance:{path.stem}").rules:
            if rule.type == "approvals.required":
                roles |= set((rule.params or {}).get("roles") or {})
    return roles


_ROLE_SNIPPET = re.compile(r"roles: *(\{[^}\n]*\}|\[[^\]\n]*\])")


def _doc_roles() -> dict[str, set[str]]:
    """Role names in every ``roles: {...}`` / ``roles: [...]`` snippet of the docs."""
    found: dict[str, set[str]] = {}
    for path in [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]:
        for m in _ROLE_SNIPPET.finditer(path.read_text(encoding="utf-8")):
            value = yaml.safe_load(m[1])
            found.setdefault(path.name, set()).update(value)
    return found


def test_role_names_agree_across_packs_docs_and_demo() -> None:
    packs = _pack_roles()
    demo = set(DEMO_ROSTER.values())
    assert packs, "the shipped packs name no roles"
    # the demo's people can fill every role the EU pack's sign-off asks for
    eu = next(
        r
        for r in load_pack("ordinance:eu-ai-act-high-risk").rules
        if r.type == "approvals.required"
    )
    assert set((eu.params or {})["roles"]) <= demo
    administrative = {"roster-admin", "ml-engineer"}  # roster roles no pack requires
    known = packs | demo | administrative
    docs = _doc_roles()
    assert docs, "no roles snippet found in the docs"
    stray = {name: sorted(roles - known) for name, roles in docs.items() if roles - known}
    assert stray == {}, f"role names not used by the packs or the demo: {stray}"
    approvals_md = (ROOT / "docs" / "approvals.md").read_text(encoding="utf-8")
    for role in sorted(packs | demo):
        assert f"`{role}`" in approvals_md, f"docs/approvals.md does not name the role {role}"

"""Every ``yaml policy`` / ``yaml waivers`` block in docs/policies.md loads and evaluates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ordinance.policy import Status, evaluate, load_pack, load_waivers

from .conftest import Builder, write

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
BLOCK = re.compile(r"^```yaml (policy|waivers)\n(.*?)^```", re.S | re.M)
BLOCKS = [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text())]


def test_every_rule_type_is_documented_with_an_example() -> None:
    from ordinance.policy.rules import BUILTIN_RULE_TYPES

    documented = {t for kind, text in BLOCKS for t in re.findall(r"type: ([\w.]+)", text)}
    assert set(BUILTIN_RULE_TYPES) <= documented
    assert "supports, it does not certify" in DOC.read_text()


@pytest.mark.parametrize(("kind", "text"), BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example(kind: str, text: str, build: Builder, tmp_path: Path) -> None:
    path = write(tmp_path / "example.yaml", text)
    if kind == "waivers":
        [w] = load_waivers(path)
        assert w.justification and w.expires_at > w.approved_at  # type: ignore[operator]
        return
    pack = load_pack(path)
    ev = evaluate(build.version(), "production", [pack], build.ctx())
    assert len(ev.findings) == len(pack.rules) > 0
    # Every rule decides: the example version has all the evidence the examples need.
    assert all(f.status != Status.ERROR for f in ev.findings), [
        (f.key, f.result.detail) for f in ev.findings if f.status == Status.ERROR
    ]

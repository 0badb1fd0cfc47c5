"""Mutated policy files never crash the loader: a PolicyLoadError naming file:line:col, or a
pack that then evaluates without raising."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordinance.errors import EXIT_USAGE, PolicyLoadError
from ordinance.model import ModelVersion
from ordinance.policy import EvaluationContext, evaluate, load_pack, shipped_packs
from ordinance.policy.rules import rule_type_names

from .conftest import Builder

SOURCES = {name: path.read_text() for name, path in shipped_packs().items()}
LOCATED = re.compile(r"^[^\n]+\.yaml:\d+:\d+: \S")
WRONG_VALUES = [
    "-1",
    "0",
    "1e999",
    ".nan",
    "[]",
    "{}",
    "null",
    "~",
    "true",
    "'x'",
    "[1, [2]]",
    "{a: 1}",
    "9999999999999999999999",
    "!!binary aGk=",
    "2026-01-01",
    "&a [*a]",
    "'ordinance:baseline'",
    "[ordinance:nope]",
    "!!python/object:os.system ls",
    "|\n  text",
    "'%'",
    '"\\x00"',
]
ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
SYNTAX = st.sampled_from([*list(":-[]{}#&*!|>'\"%@`,? \n\t"), "  ", "\n  - ", ": ", "- "])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(sorted(SOURCES.values())))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "insert",
                    "drop_line",
                    "dup_line",
                    "swap_lines",
                    "wrong_value",
                    "swap_type",
                ]
            )
        )
        if op == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            j = draw(st.integers(i, min(len(text), i + 12)))
            text = text[:i] + text[j:]
        elif op == "insert":
            i = draw(st.integers(0, len(text)))
            piece = draw(st.one_of(SYNTAX, st.text(ALPHABET, min_size=1, max_size=6)))
            text = text[:i] + piece + text[i:]
        elif op in ("drop_line", "dup_line", "swap_lines") and lines:
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if op == "drop_line":
                del lines[i]
            elif op == "dup_line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif op == "wrong_value":
            keyed = [k for k, line in enumerate(lines) if re.match(r"^\s*-?\s*[\w-]+: \S", line)]
            if keyed:
                k = draw(st.sampled_from(keyed))
                key = lines[k].split(":", 1)[0]
                lines[k] = f"{key}: {draw(st.sampled_from(WRONG_VALUES))}"
                text = "\n".join(lines)
        elif op == "swap_type":
            typed = [k for k, line in enumerate(lines) if line.strip().startswith("type: ")]
            if typed:
                k = draw(st.sampled_from(typed))
                indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
                new = draw(st.sampled_from([*rule_type_names(), "fairness", "Metrics.Threshold"]))
                lines[k] = f"{indent}type: {new}"
                text = "\n".join(lines)
    return text


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelVersion, EvaluationContext]:
    b = Builder(tmp_path_factory.mktemp("prop"))
    return b.version(biased=True), b.ctx()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_mutated_packs_fail_with_a_located_error_or_load(
    text: str,
    tmp_path_factory: pytest.TempPathFactory,
    target: tuple[ModelVersion, EvaluationContext],
) -> None:
    path: Path = tmp_path_factory.mktemp("m") / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        pack = load_pack(path)
    except PolicyLoadError as exc:
        assert exc.exit_code == EXIT_USAGE
        assert LOCATED.match(exc.message), exc.message
        assert "\n" not in exc.message
        return
    version, ctx = target
    for stage in ("staging", "production"):
        ev = evaluate(version, stage, [pack], ctx)  # rule trouble is a result, never a raise
        assert len(ev.findings) == len(pack.rules)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_unmutated_shipped_packs_load(name: str) -> None:
    assert load_pack(f"ordinance:{name}").name == name

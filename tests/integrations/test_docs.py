"""The newcomer's documents link only to files that exist and name only real commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "docs" / "getting-started.md",
    REPO / "docs" / "mlflow.md",
    *sorted((REPO / "docs").glob("guide-*.md")),
    *sorted((REPO / "docs" / "adr").glob("*.md")),
    *sorted((REPO / "examples").glob("*/README.md")),
]
_LINK = re.compile(r"\]\(([^)\s#]+)(#[^)\s]*)?\)")
_COMMAND = re.compile(r"^\s*(?:\$ )?ordinance ((?:[a-z][a-z-]* ?){1,2})", re.MULTILINE)


def test_the_expected_documents_exist() -> None:
    names = {p.name for p in DOCS}
    for n in (
        "guide-risk-officer.md",
        "guide-ci-engineer.md",
        "guide-auditor.md",
        "guide-ml-team.md",
    ):
        assert n in names
    assert len(list((REPO / "docs" / "adr").glob("000[1-7]-*.md"))) == 7


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    missing = []
    for m in _LINK.finditer(doc.read_text()):
        target = m.group(1)
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (doc.parent / target).exists():
            missing.append(target)
    assert not missing, f"{doc.relative_to(REPO)} links to missing files: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_commands_in_code_blocks_exist(doc: Path) -> None:
    import click

    from ordinance._cli import cli

    text = doc.read_text()
    blocks = "\n".join(re.findall(r"```(?:bash|console|sh)?\n(.*?)```", text, re.DOTALL))
    unknown = []
    for m in _COMMAND.finditer(blocks):
        words = m.group(1).split()
        cmd = cli.get_command(click.Context(cli), words[0])
        if cmd is None:
            unknown.append(words[0])
        elif (
            isinstance(cmd, click.Group)
            and len(words) > 1
            and words[1] in _SUBWORDS
            and cmd.get_command(click.Context(cmd), words[1]) is None
        ):
            unknown.append(" ".join(words[:2]))
    assert not unknown, f"{doc.relative_to(REPO)} shows unknown commands: {unknown}"


# Words that, after a group name, must be a subcommand (anything else is an argument).
_SUBWORDS = {
    "verify", "export", "show", "prove", "checkpoint", "cosign", "consistency", "generate",
    "rotate", "lint", "explain", "list", "apply", "fairness", "drift", "upgrade", "mlflow",
}  # fmt: skip

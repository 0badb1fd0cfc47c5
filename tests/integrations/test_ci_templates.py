"""The CI templates in examples/ci only call `ordinance` commands and options that exist.

Every `run:` (GitHub Actions) and `script:`/`before_script:` (GitLab CI) line is scanned for
`ordinance ...` invocations; each is parsed by the real click command tree with
``make_context(resilient_parsing=False)`` after substituting CI variables with placeholder
values. Nothing is executed. A failing case names the template, the job and the command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CI_DIR = REPO / "examples" / "ci"
TEMPLATES = sorted(CI_DIR.glob("*.yml"))

#: Placeholder values for the variables the templates use (anything else becomes its name).
PLACEHOLDERS = {
    "MODEL": "credit-risk",
    "VERSION": "1.0.0",
    "REF": "credit-risk@1.0.0",
    "TARGET_STAGE": "production",
    "MANIFEST": "models/credit-risk/manifest.yaml",
}
_SEPARATORS = {"&&", "||", "|", ";", "&", "(", ")"}
_REDIRECTS = {">", ">>", "<", "2>", "2>>"}


@dataclass(frozen=True)
class Invocation:
    template: str
    where: str
    line: str
    argv: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.template}:{self.where}:{' '.join(self.argv[:3])}"


def _substitute(text: str, env: dict[str, str]) -> str:
    def expr(m: re.Match[str]) -> str:
        inner = m.group(1).strip().lower()
        for key in ("version", "model", "comment"):
            if key in inner:
                return PLACEHOLDERS.get(key.upper(), key)
        return "placeholder"

    text = re.sub(r"\$\{\{(.*?)\}\}", expr, text)

    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name) or PLACEHOLDERS.get(name) or name.lower()

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", var, text)


def _ordinance_argvs(script: str, env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    text = re.sub(r"\\\n\s*", " ", script)  # shell line continuations
    for raw in text.splitlines():
        line = _substitute(raw.strip(), env)
        if "ordinance" not in line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        segments: list[list[str]] = [[]]
        for tok in lexer:
            if tok in _SEPARATORS:
                segments.append([])
            else:
                segments[-1].append(tok)
        for segment in segments:
            words: list[str] = []
            it = iter(segment)
            for tok in it:
                if tok in _REDIRECTS:
                    next(it, None)  # the redirection target
                else:
                    words.append(tok)
            if words and words[0] == "ordinance":
                yield raw.strip(), words[1:]


def _env_of(*blocks: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for block in blocks:
        if isinstance(block, dict):
            for k, v in block.items():
                env[str(k)] = _substitute(str(v), env)
    return env


def _scripts(path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path.name}: not a mapping"
    if "jobs" in doc:  # GitHub Actions
        for job_name, job in doc["jobs"].items():
            job_env = _env_of(doc.get("env"), job.get("env"))
            for i, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    env = {**job_env, **_env_of(step.get("env"))}
                    label = step.get("name") or f"step {i + 1}"
                    yield f"{job_name}/{label}", str(step["run"]), env
        return
    env = _env_of(doc.get("variables"))  # GitLab CI
    for job_name, job in doc.items():
        if not isinstance(job, dict):
            continue
        job_env = {**env, **_env_of(job.get("variables"))}
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key) or []
            for line in [lines] if isinstance(lines, str) else lines:
                yield f"{job_name}/{key}", str(line), job_env


def _invocations() -> list[Invocation]:
    found: list[Invocation] = []
    for path in TEMPLATES:
        for where, script, env in _scripts(path):
            for line, argv in _ordinance_argvs(script, env):
                found.append(Invocation(path.name, where, line, tuple(argv)))
    return found


INVOCATIONS = _invocations()


def _create_required_paths(cmd: click.Command, ctx: click.Context, args: list[str]) -> None:
    """Paths the command insists exist (click.Path(exists=True)) are created empty in cwd."""
    try:
        opts, _, _ = cmd.make_parser(ctx).parse_args(list(args))
    except click.UsageError:
        return  # make_context reports it
    for param in cmd.params:
        t = param.type
        if not (isinstance(t, click.Path) and t.exists) or param.name is None:
            continue
        raw = opts.get(param.name)
        values = raw if isinstance(raw, list | tuple) else [raw]
        for value in values:
            if not isinstance(value, str) or value in ("-", ""):
                continue
            p = Path(value)
            if p.exists():
                continue
            if t.file_okay:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("placeholder\n")
            else:
                p.mkdir(parents=True)


def _parse(argv: tuple[str, ...]) -> str:
    """Resolve and parse ``ordinance ARGV`` without running it; return the command path."""
    from ordinance._cli import cli

    cmd: click.Command = cli
    names = ["ordinance"]
    args = list(argv)
    parent: click.Context | None = None
    while True:
        probe = click.Context(cmd, info_name=names[-1], parent=parent, resilient_parsing=True)
        _create_required_paths(cmd, probe, args)
        ctx = cmd.make_context(names[-1], args, parent=parent, resilient_parsing=False)
        if not isinstance(cmd, click.Group):
            return " ".join(names)
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            raise AssertionError(f"`{' '.join(names)}` needs a subcommand")
        name, sub, args = cmd.resolve_command(ctx, rest)
        if sub is None or name is None:
            raise AssertionError(f"no command `{' '.join(names)} {rest[0]}`")
        names.append(name)
        parent, cmd = ctx, sub


def test_templates_exist() -> None:
    names = {p.name for p in TEMPLATES}
    assert {"github-actions.yml", "gitlab-ci.yml", "github-manual-approval.yml"} <= names
    assert all(inv.argv for inv in INVOCATIONS)
    assert len(INVOCATIONS) >= 15


@pytest.mark.parametrize("inv", INVOCATIONS, ids=lambda inv: inv.id)
def test_every_ordinance_command_in_a_template_parses(
    inv: Invocation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("ORDINANCE_HOME", "ORDINANCE_DB", "ORDINANCE_ACTOR"):
        monkeypatch.delenv(var, raising=False)
    try:
        _parse(inv.argv)
    except click.exceptions.NoSuchOption as exc:
        pytest.fail(f"{inv.template} [{inv.where}]: {exc.format_message()}\n  in: {inv.line}")
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "ordinance"
        pytest.fail(
            f"{inv.template} [{inv.where}]: `{cmd}`: {exc.format_message()}\n  in: {inv.line}"
        )
    except click.BadParameter as exc:  # pragma: no cover - a subclass of UsageError
        pytest.fail(f"{inv.template} [{inv.where}]: {exc.format_message()}\n  in: {inv.line}")
    except AssertionError as exc:
        pytest.fail(f"{inv.template} [{inv.where}]: {exc}\n  in: {inv.line}")


def test_github_gate_uploads_sarif_writes_a_summary_and_gates_promotion() -> None:
    doc = yaml.safe_load((CI_DIR / "github-actions.yml").read_text())
    steps = doc["jobs"]["gate"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert doc["jobs"]["gate"]["permissions"]["security-events"] == "write"
    checks = [i for i in INVOCATIONS if i.template == "github-actions.yml" and i.argv[0] == "check"]
    formats = {i.argv[i.argv.index("--format") + 1] for i in checks}
    assert {"github", "sarif"} <= formats  # annotations + job summary, and code scanning
    promote = doc["jobs"]["promote"]
    assert promote["needs"] == "gate"
    assert any(i.argv[0] == "promote" for i in INVOCATIONS if "promote/" in i.where)


def test_manual_approval_uses_a_protected_environment() -> None:
    doc = yaml.safe_load((CI_DIR / "github-manual-approval.yml").read_text())
    job = doc["jobs"]["promote"]
    assert job["environment"] == "production"
    commands = [i.argv[0] for i in INVOCATIONS if i.template == "github-manual-approval.yml"]
    assert commands.index("check") < commands.index("promote")


def test_templates_run_in_server_mode_with_no_key_or_database_on_runners() -> None:
    """Approvals are signed on the approvers' own machines; runners hold a URL and a token."""
    for path in TEMPLATES:
        text = path.read_text()
        assert "ORDINANCE_URL" in text, path.name
        for secret in ("log.key", "ORDINANCE_LOG_KEY", "ORDINANCE_DB", "ORDINANCE_HOME"):
            assert secret not in text, f"{path.name} puts {secret} on a runner"
    for inv in INVOCATIONS:
        assert inv.argv[0] not in ("approve", "waive", "init", "serve"), inv.id
        assert "--key" not in inv.argv, inv.id


def test_gitlab_gate_reports_junit_and_promotes_manually() -> None:
    doc = yaml.safe_load((CI_DIR / "gitlab-ci.yml").read_text())
    assert doc["policy-gate"]["artifacts"]["reports"]["junit"] == "ordinance-junit.xml"
    assert doc["promote-production"]["rules"][0]["when"] == "manual"


def test_the_scanner_finds_chained_and_continued_commands() -> None:
    script = 'ordinance register "$MANIFEST" --format json > r.json && echo ok\n' + (
        "ordinance check a@1 \\\n  --stage production || true\necho ordinance is not a command here"
    )
    found = [argv for _, argv in _ordinance_argvs(script, {})]
    assert found == [
        ["register", "models/credit-risk/manifest.yaml", "--format", "json"],
        ["check", "a@1", "--stage", "production"],
    ]

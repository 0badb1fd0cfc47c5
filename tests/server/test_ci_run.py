"""The CI templates in examples/ci, executed: each job's steps in order, each job in its own fresh
directory (as a separate runner would), against a live `ordinance serve`.

`uses:` steps (checkout, setup-python, artifact and SARIF uploads) are the runner's business: a
job that checks out gets a fresh copy of the simulated commit, and `pip install ordinance` is a
shim that says Ordinance is already installed from this checkout. Everything else runs in bash
as written, with the template's environment and `${{ … }}` expressions resolved. The gate must
fail for the biased version and pass for the fair one; the promotion must succeed after two
approvers (own homes, own keys, own tokens) have signed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from server_support import Issuer, remote_cli
from team_support import Team, build_team

from helpers import run_cli

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"

TWO_APPROVALS = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: production-approvals, version: "1"}
rules:
  - id: validator-and-risk-officer
    type: approvals.required
    params:
      roles: {model-validator: 1, risk-officer: 1}
      separation_of_duties: true
"""


@dataclass
class JobResult:
    code: int
    failed_step: str | None
    outputs: dict[str, str] = field(default_factory=dict)
    dotenv: dict[str, str] = field(default_factory=dict)
    log: str = ""


def _shims(root: Path) -> Path:
    bin_dir = root / "shims"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ordinance").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ordinance "$@"\n')
    (bin_dir / "pip").write_text(
        "#!/bin/sh\necho 'test runner: ordinance is already installed from this checkout' >&2\n"
    )
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def _base_env(root: Path, workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORDINANCE_", "GITHUB_", "CI_", "AWS_"))
    }
    env["PATH"] = f"{_shims(root)}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(workdir / ".home")
    (workdir / ".home").mkdir(exist_ok=True)
    return env


def _fresh(root: Path, name: str, checkout: Path | None) -> Path:
    workdir = root / name
    if workdir.exists():
        shutil.rmtree(workdir)
    if checkout is not None:
        shutil.copytree(checkout, workdir)
    else:
        workdir.mkdir(parents=True)
    return workdir


def _bash(script: str, workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# --------------------------------------------------------------------------- GitHub Actions

_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _gh_value(expr: str, ctx: dict[str, Any]) -> str:
    node: Any = ctx
    for part in expr.split("."):
        node = node[part]
    return str(node)


def _gh_sub(text: str, ctx: dict[str, Any]) -> str:
    return _EXPR.sub(lambda m: _gh_value(m.group(1), ctx), text)


def _gh_if(cond: str, ctx: dict[str, Any], failed: bool) -> bool:
    """The step conditions the templates use: default success(), or always() && outcome."""
    cond = cond.strip().removeprefix("${{").removesuffix("}}").strip()
    if "always()" not in cond:
        return not failed
    for step_id, wanted in re.findall(r"steps\.(\w+)\.outcome == '(\w+)'", cond):
        if ctx["steps"].get(step_id, {}).get("outcome") != wanted:
            return False
    return True


def run_github_job(
    doc: dict[str, Any], job: str, root: Path, checkout: Path, ctx: dict[str, Any]
) -> JobResult:
    spec = doc["jobs"][job]
    checks_out = any(str(s.get("uses", "")).startswith("actions/checkout@") for s in spec["steps"])
    workdir = _fresh(
        root, f"gh-{job}-{len(list(root.glob('gh-*')))}", checkout if checks_out else None
    )
    env = _base_env(root, workdir)
    ctx = {**ctx, "steps": {}, "github": {**ctx["github"], "workspace": str(workdir)}}
    for k, v in {**doc.get("env", {}), **spec.get("env", {})}.items():
        env[k] = _gh_sub(str(v), ctx)
    files = {
        n: workdir / f".{n.lower()}" for n in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")
    }
    env.update({n: str(p) for n, p in files.items()})
    env["RUNNER_TEMP"] = str(workdir / ".tmp")
    (workdir / ".tmp").mkdir()
    failed: str | None = None
    code = 0
    log: list[str] = []
    for step in spec["steps"]:
        name = step.get("name") or step.get("run") or step.get("uses")
        if not _gh_if(str(step.get("if", "success()")), ctx, failed is not None):
            continue
        if "uses" in step:
            log.append(f"[uses] {step['uses']} (runner action, not executed)")
            if "id" in step:
                ctx["steps"][step["id"]] = {"outcome": "success", "outputs": {}}
            continue
        step_env = dict(env)
        for k, v in step.get("env", {}).items():
            step_env[k] = _gh_sub(str(v), ctx)
        files["GITHUB_OUTPUT"].write_text("")
        proc = _bash(_gh_sub(step["run"], ctx), workdir, step_env)
        log.append(
            f"[run] {name}: exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
        outputs = dict(
            line.split("=", 1)
            for line in files["GITHUB_OUTPUT"].read_text().splitlines()
            if "=" in line
        )
        if files["GITHUB_ENV"].exists():
            for line in files["GITHUB_ENV"].read_text().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    env[k] = v
        outcome = "success" if proc.returncode == 0 else "failure"
        if "id" in step:
            ctx["steps"][step["id"]] = {"outcome": outcome, "outputs": outputs}
        if proc.returncode != 0 and failed is None:
            failed, code = str(name), proc.returncode
    job_outputs = (
        {k: _gh_sub(str(v), ctx) for k, v in spec.get("outputs", {}).items()} if not failed else {}
    )
    return JobResult(code, failed, job_outputs, log="\n".join(log))


# --------------------------------------------------------------------------- GitLab CI


def run_gitlab_job(
    doc: dict[str, Any],
    job: str,
    root: Path,
    checkout: Path,
    variables: dict[str, str],
    needs: dict[str, JobResult],
) -> JobResult:
    spec = doc[job]
    workdir = _fresh(root, f"gl-{job}-{len(list(root.glob('gl-*')))}", checkout)
    env = _base_env(root, workdir)
    env.update({k: str(v) for k, v in doc.get("variables", {}).items()})
    env.update({k: str(v) for k, v in spec.get("variables", {}).items()})
    env.update(variables)
    env["CI_PROJECT_DIR"] = str(workdir)
    for need in spec.get("needs", []):
        env.update(needs[need].dotenv)
    lines = list(doc.get("default", {}).get("before_script", [])) + list(spec["script"])
    log: list[str] = []
    code, failed = 0, None
    # one shell, line by line, stop at the first failing line (GitLab's semantics)
    proc = _bash("\n".join(lines), workdir, env)
    log.append(f"exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    if proc.returncode != 0:
        code, failed = proc.returncode, job
    dotenv: dict[str, str] = {}
    report = spec.get("artifacts", {}).get("reports", {}).get("dotenv")
    if (
        report
        and (workdir / report).exists()
        and (code == 0 or spec["artifacts"].get("when") == "always")
    ):
        dotenv = dict(
            line.split("=", 1)
            for line in (workdir / report).read_text().splitlines()
            if "=" in line
        )
    return JobResult(code, failed, dotenv=dotenv, log="\n".join(log))


# --------------------------------------------------------------------------- the story


@pytest.fixture(scope="module")
def commits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two commits of a model repository: the biased 1.0.0 and the fair 1.1.0."""
    root = tmp_path_factory.mktemp("repo")
    gen = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "credit-risk" / "generate.py"),
            str(root / "data"),
            "--rows",
            "2000",
        ],
        capture_output=True,
        text=True,
    )
    assert gen.returncode == 0, gen.stderr
    out = {}
    for version in ("1.0.0", "1.1.0"):
        repo = root / f"commit-{version}"
        shutil.copytree(root / "data" / f"v{version}", repo / "models" / "credit-risk")
        out[version] = repo
    return out


def _team(tmp_path: Path, server: dict[str, object] | None = None) -> Team:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "approvals.yaml").write_text(TWO_APPROVALS)
    team = build_team(
        tmp_path,
        f"sqlite:///{tmp_path / 'team.db'}",
        policies={
            "staging": ["ordinance:baseline"],
            "production": ["ordinance:baseline", str(packs / "approvals.yaml")],
        },
        server=server,
    )
    team.server.start()
    return team


def _approve(team: Team, ref: str) -> None:
    for p in (team.vera, team.rita):
        r = remote_cli(team.url, p.token, "approve", ref, "--stage", "production", "--key", p.key)
        assert r.code == 0, r.err


def _production(team: Team) -> list[str]:
    models = remote_cli(team.url, team.ci_token, "models", "--format", "json").json()
    return [v["version"] for m in models for v in m["versions"] if v["stage"] == "production"]


def test_github_actions_template_runs_against_a_live_server(
    tmp_path: Path, commits: dict[str, Path]
) -> None:
    team = _team(tmp_path)
    try:
        doc = yaml.safe_load((CI / "github-actions.yml").read_text())
        vkey = (team.home / "keys" / "log.vkey").read_text().strip()
        ctx = {
            "vars": {"ORDINANCE_URL": team.url, "ORDINANCE_LOG_VKEY": vkey},
            "secrets": {"ORDINANCE_TOKEN": team.ci_token},
            "github": {"ref": "refs/heads/main", "event_name": "push", "actor": "ci"},
        }
        runners = tmp_path / "runners"
        runners.mkdir()
        biased = run_github_job(doc, "gate", runners, commits["1.0.0"], ctx)
        assert biased.code == 1, biased.log
        assert biased.failed_step == "Policy gate (annotations and job summary)", biased.log
        assert "fairness" in biased.log
        fair = run_github_job(doc, "gate", runners, commits["1.1.0"], ctx)
        assert fair.code == 0, fair.log
        assert fair.outputs == {"version": "1.1.0"}
        # the environment holds the promote job while the two approvers sign on their machines
        _approve(team, "credit-risk@1.1.0")
        promote = run_github_job(
            doc,
            "promote",
            runners,
            commits["1.1.0"],
            {**ctx, "needs": {"gate": {"outputs": fair.outputs}}},
        )
        assert promote.code == 0, promote.log
        assert _production(team) == ["1.1.0"]
    finally:
        team.server.stop()


def test_gitlab_template_runs_with_oidc_against_a_live_server(
    tmp_path: Path, commits: dict[str, Path]
) -> None:
    issuer = Issuer()
    try:
        team = _team(
            tmp_path,
            server={
                "oidc": [
                    {
                        "issuer": issuer.url,
                        "audience": "ordinance.example.org",
                        "identity": "gitlab:{project_path}",
                        "scope": "ci",
                        "claims": {"namespace_path": "ml"},
                    }
                ]
            },
        )
        try:
            _gitlab_story(team, tmp_path, commits, issuer)
        finally:
            team.server.stop()
    finally:
        issuer.close()


def _gitlab_story(team: Team, tmp_path: Path, commits: dict[str, Path], issuer: Issuer) -> None:
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    runners = tmp_path / "runners"
    runners.mkdir()

    def variables() -> dict[str, str]:  # a fresh ID token per job, as GitLab mints them
        return {
            "ORDINANCE_URL": team.url,
            "ORDINANCE_LOG_VKEY": (team.home / "keys" / "log.vkey").read_text().strip(),
            "ORDINANCE_ID_TOKEN": issuer.token(
                aud="ordinance.example.org",
                project_path="ml/credit",
                namespace_path="ml",
                sub="project_path:ml/credit:ref_type:branch:ref:main",
            ),
            "CI_COMMIT_BRANCH": "main",
            "CI_DEFAULT_BRANCH": "main",
        }

    biased = run_gitlab_job(doc, "policy-gate", runners, commits["1.0.0"], variables(), {})
    assert biased.code == 1, biased.log
    assert "fairness" in biased.log
    gate = run_gitlab_job(doc, "policy-gate", runners, commits["1.1.0"], variables(), {})
    assert gate.code == 0, gate.log
    assert gate.dotenv == {"VERSION": "1.1.0"}
    staging = run_gitlab_job(
        doc, "promote-staging", runners, commits["1.1.0"], variables(), {"policy-gate": gate}
    )
    assert staging.code == 0, staging.log
    needs = {"policy-gate": gate, "promote-staging": staging}
    # before the approvals the manual production job is denied (exit 1) ...
    denied = run_gitlab_job(
        doc, "promote-production", runners, commits["1.1.0"], variables(), needs
    )
    assert denied.code == 1, denied.log
    assert "DENIED" in denied.log or '"outcome": "denied"' in denied.log
    # ... and after two approvers signed from their own homes, a retry promotes
    _approve(team, "credit-risk@1.1.0")
    done = run_gitlab_job(doc, "promote-production", runners, commits["1.1.0"], variables(), needs)
    assert done.code == 0, done.log
    assert _production(team) == ["1.1.0"]
    history = remote_cli(
        team.url, team.ci_token, "history", "credit-risk", "--format", "json"
    ).json()
    actors = {e["actor"] for e in history["events"]}
    assert "gitlab:ml/credit" in actors  # the OIDC identity is the recorded actor
    assert run_cli("--version").code == 0

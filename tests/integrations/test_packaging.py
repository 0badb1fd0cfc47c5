"""Packaging: the sdist and wheel build, ship the policy packs and report templates, and the
wheel installed into a fresh virtual environment, beside `pydocket` (which owns the `docket`
import package and command), runs `ordinance demo` outside the source tree.

Slow and networked: ``python -m build`` fetches hatchling, and the fresh venv installs the
dependencies from PyPI (about a minute with a warm pip cache). Run with ``-m slow -s`` to see
the timings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _shipped(directory: str) -> set[str]:
    return {p.relative_to(REPO / directory).as_posix() for p in (REPO / directory).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}  # fmt: skip


def _run(*args: str | Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDINANCE_", "PYTHON"))}
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build", reason="python -m build needs the 'build' package (test extra)")
    out = tmp_path_factory.mktemp("dist")
    t0 = time.monotonic()
    _run(sys.executable, "-m", "build", "--outdir", out, REPO, cwd=out)
    print(f"\npython -m build (sdist + wheel): {time.monotonic() - t0:.1f}s")
    return out


def _wheel(dist: Path) -> Path:
    [wheel] = dist.glob("ordinance-*.whl")
    return wheel


def test_wheel_ships_policies_templates_migrations_and_py_typed(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist)) as zf:
        names = set(zf.namelist())
    policies = {f"ordinance/_data/policies/{n}" for n in _shipped("policies")}
    templates = {f"ordinance/_data/report_templates/{n}" for n in _shipped("report_templates")}
    assert policies and policies <= names, sorted(policies - names)
    assert templates and templates <= names, sorted(templates - names)
    assert "ordinance/py.typed" in names
    assert any(n.startswith("ordinance/store/migrations/versions/0001_") for n in names)
    assert "ordinance/integrations/mlflow.py" in names
    assert not [n for n in names if n.endswith(".pyc") or n.startswith("tests/")]


def test_sdist_ships_sources_policies_templates_and_docs(dist: Path) -> None:
    [sdist] = dist.glob("ordinance-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in ("pyproject.toml", "README.md", "src/ordinance/__init__.py"):
        assert required in names
    assert {f"policies/{n}" for n in _shipped("policies")} <= names
    assert {f"report_templates/{n}" for n in _shipped("report_templates")} <= names
    assert "docs/getting-started.md" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith((".venv", ".ordinance"))]


def test_fresh_venv_install_runs_the_demo_then_pdf_extra(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    t0 = time.monotonic()
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    # Together with pydocket, whose top-level package and console script are named `docket`
    # (the name this project used before; issue 11): neither may overwrite the other.
    _run(
        bindir / "python", "-m", "pip", "install", "--quiet", _wheel(dist), "pydocket", cwd=tmp_path
    )
    t_install = time.monotonic() - t0
    both = _run(bindir / "python", "-c",
                "import docket, ordinance; print(docket.__file__); print(ordinance.__file__)",
                cwd=tmp_path)  # fmt: skip
    docket_file, ordinance_file = both.stdout.split()
    assert Path(docket_file).parent.name == "docket"
    assert Path(ordinance_file).parent.name == "ordinance"
    assert (bindir / "docket").exists() and (bindir / "ordinance").exists()

    # Installed, not the source tree: run outside the repository.
    where = _run(
        bindir / "python", "-c", "import ordinance; print(ordinance.__file__)", cwd=tmp_path
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)

    t1 = time.monotonic()
    demo = _run(bindir / "ordinance", "demo", "--dir", tmp_path / "demo", cwd=tmp_path)
    t_demo = time.monotonic() - t1
    assert "== done" in demo.stdout
    listed = _run(bindir / "ordinance", "policy", "list", cwd=tmp_path)
    assert "ordinance:baseline" in listed.stdout  # the packaged packs, not the repo's
    home = tmp_path / "demo" / ".ordinance"
    _run(bindir / "ordinance", "--home", home, "card", "credit-risk@1.1.0", "--format", "html",
         "--out", tmp_path / "card.html", cwd=tmp_path)  # fmt: skip
    assert "<html" in (tmp_path / "card.html").read_text().lower()

    # The pdf extra on top: weasyprint only, then a PDF report.
    t2 = time.monotonic()
    _run(bindir / "python", "-m", "pip", "install", "--quiet", f"{_wheel(dist)}[pdf]", cwd=tmp_path)
    t_pdf = time.monotonic() - t2
    _run(bindir / "ordinance", "--home", home, "report", "credit-risk@1.1.0", "--format", "pdf",
         "--out", tmp_path / "report.pdf", cwd=tmp_path)  # fmt: skip
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")
    print(
        f"\nfresh venv + install: {t_install:.1f}s, ordinance demo: {t_demo:.1f}s, "
        f"[pdf] extra: {t_pdf:.1f}s"
    )

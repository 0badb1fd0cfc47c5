"""Rendering times: `ordinance --version`, an HTML card from the CLI, a model card (HTML), a
~20-page compliance PDF, a 1,000-version portfolio.

    python benchmarks/bench_report.py [--repeat N] [--versions N] [--skip-portfolio]

Setup (not timed): the demo workspace (two credit-risk versions, evaluations, approvals, a
waiver, promotions, explainability), plus one evaluation of credit-risk@1.0.0 against all
four shipped packs (36 rules, so its compliance report runs to about 20 pages); and a second
workspace holding ``--versions`` synthetic versions (100 models), each with a recorded
evaluation, some promoted.

Targets: `ordinance --version` < 0.3 s and an HTML card from the CLI (a fresh process:
imports, context, render, write, log the rendering) < 1 s wall; card HTML in-process < 300 ms;
20-page compliance PDF < 5 s; portfolio over 1,000 versions < 60 s. Times are wall-clock
medians; "cold" includes importing WeasyPrint. The CPU time of the CLI runs is printed too,
since on a shared machine wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 3, 1, tzinfo=UTC)
#: every shipped pack: the report of credit-risk@1.0.0 under all of them runs to ~20+ pages
ALL_PACKS = [
    "ordinance:baseline",
    "ordinance:eu-ai-act-high-risk",
    "ordinance:bank-model-risk",
    "ordinance:nist-ai-rmf",
]


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _cli(args: list[str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``python -m ordinance ARGS`` in a fresh process."""
    walls, cpus = [], []
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ordinance", *args],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def setup_demo(directory: Path) -> Path:
    from ordinance.demo import run_demo
    from ordinance.policy import EvaluationContext, evaluate, load_packs
    from ordinance.workspace import Workspace

    run_demo(directory, say=lambda _s: None)
    home = directory / ".ordinance"
    with Workspace.open(home) as ws:
        registry = ws.registry()
        packs = load_packs(
            [
                "ordinance:baseline",
                "ordinance:eu-ai-act-high-risk",
                "ordinance:bank-model-risk",
                "ordinance:nist-ai-rmf",
            ]
        )
        v = registry.get_version("credit-risk", "1.0.0")
        ctx = EvaluationContext(
            now=NOW, evidence=ws.evidence, champion=registry.find_version_in_stage
        )
        ws.record_evaluation(evaluate(v, "production", packs, ctx))
    return home


def setup_portfolio(directory: Path, n_versions: int, template: dict[str, Any]) -> Path:
    """``n_versions`` versions of 100 models, straight into the registry (no files)."""
    from ordinance.model import CodeRef, Dataset, Identity, Lineage, Model, ModelVersion
    from ordinance.store.registry import TransitionRecord
    from ordinance.workspace import init_workspace

    home = directory / ".ordinance"
    ws = init_workspace(home)
    registry = ws.registry()
    n_models = min(100, n_versions)
    per_model = max(1, n_versions // n_models)
    verdicts = ("pass", "warn", "fail")
    transitions = []
    for m in range(n_models):
        model = Model(
            name=f"model-{m:03d}",
            owner=f"team-{m % 7}",
            risk_tier="high",
            description=f"Synthetic model {m}",
        )
        for i in range(per_model):
            created = NOW - timedelta(days=400 - i * 30, hours=m)
            v = ModelVersion(
                model=model,
                version=f"1.{i}.0",
                stage="development",
                author="bench@example.com",
                created_at=created,
                registered_at=created,
                identity=Identity(sha256=f"{m:04d}{i:04d}".ljust(64, "a")),
                lineage=Lineage(
                    datasets=(Dataset(name="train", uri="s3://b/train", sha256="b" * 64),),
                    code=CodeRef(repository="https://git.example/m", commit=f"{i:07d}"),
                    training_run=f"runs:/{m}/{i}",
                ),
                metrics={"auc": 0.7 + i / 100},
                documentation={"summary": "s", "intended_use": "u", "limitations": "l"},
            )
            registry.add_version(v)
            verdict = verdicts[(m + i) % 3]
            result = {**template, "model": model.name, "version": v.version, "verdict": verdict}
            registry.add_evaluation(v, "production", verdict, created, {}, result, None)
        last = f"1.{per_model - 1}.0"
        transitions.append(
            TransitionRecord(
                model=model.name,
                version=last,
                from_stage="development",
                to_stage="production",
                actor="bench",
                at=NOW - timedelta(days=m % 60),
                kind="promote",
            )
        )
    registry.apply_transitions(transitions)
    ws.close()
    return home


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--skip-portfolio", action="store_true")
    args = ap.parse_args()

    wall, cpu = _cli(["--version"], max(args.repeat, 5))
    print(f"ordinance --version: {wall:.3f} s wall, {cpu:.3f} s CPU (median)  target < 0.3 s")

    from ordinance.report import (
        build_card_context,
        build_portfolio_context,
        build_report_context,
        render_document,
    )
    from ordinance.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        home = setup_demo(Path(tmp) / "demo")
        print(f"setup: demo workspace in {time.perf_counter() - t0:.1f} s")
        out = Path(tmp) / "card.html"
        wall, cpu = _cli(
            [
                "--home",
                str(home),
                "card",
                "credit-risk@1.1.0",
                "--format",
                "html",
                "--out",
                str(out),
            ],
            args.repeat,
        )
        print(
            f"HTML card from the CLI (fresh process, rendering logged): {wall:.2f} s wall, "
            f"{cpu:.2f} s CPU (median)  target < 1 s wall"
        )
        with Workspace.open(home) as ws:

            def card() -> bytes:
                return render_document(
                    "card", build_card_context(ws, "credit-risk", "1.1.0"), "html"
                )

            t = time.perf_counter()
            card()
            first = time.perf_counter() - t
            med, _ = _median(card, args.repeat)
            print(
                f"card HTML (context + render): {med * 1000:.0f} ms median "
                f"(first, with imports: {first * 1000:.0f} ms)  target < 300 ms"
            )

            report_ctx = build_report_context(
                ws, "credit-risk", "1.0.0", stage="production", packs=ALL_PACKS
            )
            # a realistic stored result: 1.0.0's baseline evaluation (6 rules, 1 failing)
            template = next(
                e["result"]
                for e in ws.registry().evaluations("credit-risk", "1.0.0")
                if e["stage"] == "staging"
            )
            t = time.perf_counter()
            render_document(
                "report",
                build_report_context(
                    ws, "credit-risk", "1.0.0", stage="production", packs=ALL_PACKS
                ),
                "pdf",
            )
            cold = time.perf_counter() - t

            def pdf() -> bytes:
                return render_document(
                    "report",
                    build_report_context(
                        ws, "credit-risk", "1.0.0", stage="production", packs=ALL_PACKS
                    ),
                    "pdf",
                )

            med, data = _median(pdf, max(1, args.repeat // 2))
            import pypdf

            pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
            print(
                f"compliance PDF, {pages} pages, {len(report_ctx['rules'])} rules: {med:.2f} s median "
                f"({med / pages * 1000:.0f} ms/page; first, with the WeasyPrint import: {cold:.2f} s)"
                "  target < 5 s"
            )

        if args.skip_portfolio:
            return
        t0 = time.perf_counter()
        phome = setup_portfolio(Path(tmp) / "portfolio", args.versions, template)
        print(f"setup: {args.versions} versions in {time.perf_counter() - t0:.1f} s")
        with Workspace.open(phome) as ws:
            t = time.perf_counter()
            ctx = build_portfolio_context(ws)
            built = time.perf_counter() - t
            t = time.perf_counter()
            html = render_document("portfolio", ctx, "html")
            html_t = time.perf_counter() - t
            t = time.perf_counter()
            data = render_document("portfolio", ctx, "pdf")
            pdf_t = time.perf_counter() - t
            pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
            print(
                f"portfolio over {ctx['totals']['versions']} versions: context {built:.2f} s, "
                f"HTML {html_t:.2f} s ({len(html) // 1024} KiB), PDF {pdf_t:.2f} s ({pages} pages); "
                f"total with PDF {built + pdf_t:.1f} s  target < 60 s"
            )


if __name__ == "__main__":
    main()

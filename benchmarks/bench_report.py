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
medians with their CPU time and the load average (on a shared machine wall time includes
waiting for a core). The CLI card is timed twice: the first rendering of the version (outcomes
and fairness computed from the predictions file and recorded; no compiled templates) and
again (recorded analyses, compiled templates). PDFs: the configured pack's report and the
report under every shipped pack, each with its page count and time per page; "first"
includes importing WeasyPrint.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from _support import NOW, cli, load, log_version, synthetic_version

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
    """``n_versions`` versions of 100 models (no files), written the way Ordinance writes
    them: each registration, evaluation and transition is a log entry and the index row that
    caches it (the registry refuses rows the log does not vouch for)."""
    from ordinance import records
    from ordinance.model import Model
    from ordinance.store.registry import TransitionRecord
    from ordinance.workspace import init_workspace

    home = directory / ".ordinance"
    ws = init_workspace(home)
    registry = ws.registry()
    n_models = min(100, n_versions)
    per_model = max(1, n_versions // n_models)
    verdicts = ("pass", "warn", "fail")
    for m in range(n_models):
        model = Model(
            name=f"model-{m:03d}",
            owner=f"team-{m % 7}",
            risk_tier="high",
            description=f"Synthetic model {m}",
        )
        with ws.write_transaction("bench setup") as conn:
            for i in range(per_model):
                v = synthetic_version(
                    model,
                    m,
                    i,
                    documentation={"summary": "s", "intended_use": "u", "limitations": "l"},
                )
                verdict = verdicts[(m + i) % 3]
                result = {**template, "model": model.name, "version": v.version, "verdict": verdict}
                log_version(ws, conn, v, verdict, result)
            at = NOW - timedelta(days=m % 60)
            t = records.Transition.of(
                v,
                from_stage="development",
                to_stage="production",
                actor="bench",
                at=at,
                kind="promote",
                reason="",
                details={},
            )
            registry.apply_transitions_in(
                conn,
                [
                    TransitionRecord(
                        model=model.name,
                        version=v.version,
                        from_stage="development",
                        to_stage="production",
                        actor="bench",
                        at=at,
                        kind="promote",
                        log_index=ws.append_to_log(t.to_statement(), conn=conn),
                    )
                ],
            )
    ws.close()
    return home


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--skip-portfolio", action="store_true")
    args = ap.parse_args()

    wall, cpu = cli(["--version"], max(args.repeat, 5))
    print(
        f"ordinance --version: {wall:.3f} s wall, {cpu:.3f} s CPU (median; {load()})"
        "  target < 0.3 s"
    )

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
        card_args = ["--home", str(home), "card", "credit-risk@1.1.0", "--format", "html"]
        card_args += ["--out", str(out)]
        # the first rendering of the version: nothing recorded, no compiled templates
        shutil.rmtree(home / "cache", ignore_errors=True)
        fresh = {"ORDINANCE_CACHE_DIR": str(Path(tmp) / "user-cache")}
        wall, cpu = cli(card_args, 1, env=fresh)
        print(
            f"HTML card from the CLI, first rendering of the version (analyses computed and "
            f"recorded, templates compiled): {wall:.2f} s wall, {cpu:.2f} s CPU ({load()})"
        )
        wall, cpu = cli(card_args, args.repeat, env=fresh)
        print(
            f"HTML card from the CLI (fresh process, rendering logged): {wall:.2f} s wall, "
            f"{cpu:.2f} s CPU (median of {args.repeat}; {load()})  target < 1 s wall"
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

            # a realistic stored result: 1.0.0's baseline evaluation (6 rules, 1 failing)
            template = next(
                e["result"]
                for e in ws.registry().evaluations("credit-risk", "1.0.0")
                if e["stage"] == "staging"
            )
            for label, packs in (("configured pack", None), ("every shipped pack", ALL_PACKS)):

                def pdf(packs: list[str] | None = packs) -> bytes:
                    ctx = build_report_context(
                        ws, "credit-risk", "1.0.0", stage="production", packs=packs
                    )
                    return render_document("report", ctx, "pdf")

                t = time.perf_counter()
                pdf()
                cold = time.perf_counter() - t
                runs = []
                for _ in range(max(1, args.repeat // 2)):
                    t, c = time.perf_counter(), time.process_time()
                    data = pdf()
                    runs.append((time.perf_counter() - t, time.process_time() - c))
                med = statistics.median(r[0] for r in runs)
                med_cpu = statistics.median(r[1] for r in runs)
                import pypdf

                pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
                print(
                    f"compliance PDF, {label}, {pages} pages (context + render): {med:.2f} s "
                    f"wall, {med_cpu:.2f} s CPU median ({med / pages * 1000:.0f} ms/page; "
                    f"first, with the WeasyPrint import: {cold:.2f} s; {load()})"
                    "  target < 5 s for 20 pages"
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

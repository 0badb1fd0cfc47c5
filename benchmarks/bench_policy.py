"""Median time to evaluate a 30-rule pack on one version, excluding metric computation.

    python benchmarks/bench_policy.py [--repeat N]

The pack holds 30 rules of the types that neither compute metrics nor read files (lineage,
registered metrics with a champion, documentation, approvals, evidence freshness), so this
measures the engine itself: scope checks, rule calls, waivers, verdict and ``to_dict``.
Target: < 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ordinance._canonical import sha256_hex
from ordinance.evidence import EvidenceStore
from ordinance.model import CodeRef, Dataset, Evidence, Identity, Lineage, Model, ModelVersion
from ordinance.policy import Approval, EvaluationContext, evaluate, load_pack

NOW = datetime(2026, 3, 1, tzinfo=UTC)
RULES = [
    ("lineage.required", "{fields: [datasets, code, training_run]}"),
    ("metrics.threshold", "{metric: auc, min: 0.7, max_regression: 0.02}"),
    ("documentation.required", "{fields: [summary, intended_use, limitations]}"),
    ("approvals.required", "{roles: {model-validator: 1, risk-officer: 1}, max_age_days: 90}"),
    ("evidence.fresh", "{kind: validation_report, max_age_days: 365}"),
]


def pack_text(n: int = 30) -> str:
    lines = ["apiVersion: ordinance/v1", "kind: PolicyPack", "metadata: {name: bench}", "rules:"]
    for i in range(n):
        rtype, params = RULES[i % len(RULES)]
        lines += [
            f"  - id: r{i}",
            f"    type: {rtype}",
            f"    params: {params}",
            f'    references: ["ref {i}"]',
        ]
    return "\n".join(lines) + "\n"


def version() -> ModelVersion:
    ev = Evidence(
        kind="validation_report",
        name="v.md",
        sha256="b" * 64,
        size=1,
        created_at=NOW - timedelta(days=30),
    )
    return ModelVersion(
        model=Model(name="m", owner="o", risk_tier="high"),
        version="1.0.0",
        stage="staging",
        author="a",
        created_at=NOW,
        registered_at=NOW,
        identity=Identity(sha256="c" * 64),
        lineage=Lineage(
            datasets=(Dataset(name="d", uri="u", sha256="a" * 64),),
            code=CodeRef(repository="r", commit="c"),
            training_run="t",
        ),
        metrics={"auc": 0.8},
        documentation={"summary": "s", "intended_use": "u", "limitations": "l"},
        evidence=(ev,),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.yaml"
        path.write_text(pack_text())
        t0 = time.perf_counter()
        pack = load_pack(path)
        load_ms = (time.perf_counter() - t0) * 1000
        v = version()
        champion = v.model_copy(update={"version": "0.9.0", "metrics": {"auc": 0.79}})
        approvals = [
            Approval(
                approver=n,
                roles=frozenset({r}),
                model="m",
                version="1.0.0",
                identity_sha256="c" * 64,
                stage="production",
                signed_at=NOW,
                digest=sha256_hex(n.encode()),
            )
            for n, r in (("x", "validator"), ("y", "risk-officer"))
        ]
        ctx = EvaluationContext(
            now=NOW,
            evidence=EvidenceStore(Path(d)),
            champion=lambda m, s: champion,
            approvals=approvals,
        )
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            ev = evaluate(v, "production", [pack], ctx)
            ev.to_dict()
            times.append((time.perf_counter() - t) * 1000)
        assert len(ev.findings) == 30 and ev.verdict == "pass", ev.verdict
    print(f"load 30-rule pack: {load_ms:.2f} ms")
    print(
        f"evaluate 30 rules + to_dict: median {statistics.median(times):.3f} ms, "
        f"p95 {sorted(times)[int(len(times) * 0.95)]:.3f} ms over {args.repeat} runs "
        "(target < 20 ms)"
    )


if __name__ == "__main__":
    main()

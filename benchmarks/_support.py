"""What several benchmarks share: the reference time, synthetic versions written straight into
a registry (no files), timing a command in a fresh process, and the machine's load."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[1] / "src"


def synthetic_version(model: Any, m: int, i: int, **extra: Any) -> Any:
    """Version ``1.i.0`` of ``model`` (the ``m``-th), registered ``400 - 30 i`` days before
    NOW, with a unique identity, one training data set, a code reference and a metric."""
    from ordinance.model import CodeRef, Dataset, Identity, Lineage, ModelVersion

    created = NOW - timedelta(days=400 - i * 30, hours=m % 24)
    return ModelVersion(
        model=model,
        version=f"1.{i}.0",
        stage="development",
        author="bench@example.com",
        created_at=created,
        registered_at=created,
        identity=Identity(sha256=f"{m:05d}{i:04d}".ljust(64, "a")),
        lineage=Lineage(
            datasets=(Dataset(name="train", uri="s3://b/train", sha256="b" * 64),),
            code=CodeRef(repository="https://git.example/m", commit=f"{i:07d}"),
            training_run=f"runs:/{m}/{i}",
        ),
        metrics={"auc": 0.7 + i / 100},
        **extra,
    )


def log_version(ws: Any, conn: Any, v: Any, verdict: str, result: dict[str, Any]) -> None:
    """Register ``v`` and record its production evaluation the way Ordinance writes them:
    each a log entry and the index row that caches it, in the caller's transaction."""
    from ordinance import records, uris
    from ordinance.ledger import evaluation_binding

    registry = ws.registry()
    created = v.registered_at
    reg = records.Registration.of(v, {}).to_statement()
    registry.add_version_in(conn, v, log_index=ws.append_to_log(reg, conn=conn))
    vsa = records.Evaluation(
        subject=records.Subject.of(v),
        verifier={"id": uris.VERIFIER_ID},
        time_verified=created,
        resource_uri=records.resource_uri(v),
        policy_uri="ordinance:bench",
        policy_sha256="c" * 64,
        input_attestations=(),
        verification_result="FAILED" if verdict == "fail" else "PASSED",
        verified_levels=(),
    ).to_statement()
    vsa["predicate"]["ordinanceEvaluation"] = evaluation_binding("production", verdict, {}, result)
    index = ws.append_to_log(vsa, conn=conn)
    registry.add_evaluation(v, "production", verdict, created, {}, result, index, conn=conn)


def load() -> str:
    """The 1-minute load average and the core count, for every printed figure."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def cli(args: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall and CPU seconds of ``python -m ordinance ARGS`` in a fresh process."""
    walls, cpus = [], []
    env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
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

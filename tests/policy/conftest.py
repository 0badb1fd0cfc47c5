"""Builders for policy tests: real evidence files in a real EvidenceStore, real versions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ordinance._canonical import canonical_json, sha256_hex
from ordinance.evidence import EvidenceStore
from ordinance.model import (
    CodeRef,
    Dataset,
    Evidence,
    Identity,
    Lineage,
    Model,
    ModelVersion,
)
from ordinance.policy import Approval, EvaluationContext, Waiver

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

DOCS = {
    "summary": "Probability of default for consumer loan applications.",
    "intended_use": "Decision support for underwriters; a human reviews every decline.",
    "intended_users": "Credit underwriting team and model risk management.",
    "out_of_scope_uses": "Employment, housing or insurance decisions.",
    "training_data": "2,800 synthetic applicants, see the datasheet.",
    "evaluation_data": "1,200 held-out synthetic applicants.",
    "limitations": "Synthetic data; not calibrated for thin-file applicants.",
    "ethical_considerations": "Postcode features can proxy for ethnicity.",
    "caveats_and_recommendations": "Revalidate quarterly; monitor income drift.",
}


def prediction_table(
    *, biased: bool, n: int = 5000, seed: int = 3, shift: float = 0.0
) -> pd.DataFrame:
    """Binary predictions with sex, age band and ethnicity. ``biased``: far more false
    positives (wrongful declines) for ethnicity ``group_b``."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=n)
    ethnicity = rng.choice(["group_a", "group_b", "group_c"], size=n, p=[0.6, 0.25, 0.15])
    age_band = rng.choice(["18-24", "25-39", "40-59", "60+"], size=n, p=[0.15, 0.35, 0.35, 0.15])
    income = rng.lognormal(10.6 + shift, 0.4, size=n).round(-2)
    y = (rng.uniform(size=n) < 0.25).astype(int)
    fpr = np.where(biased & (ethnicity == "group_b"), 0.35, 0.06)
    u = rng.uniform(size=n)
    pred = np.where(y == 1, (u >= 0.2).astype(int), (u < fpr).astype(int))
    return pd.DataFrame(
        {
            "default": y,
            "predicted": pred,
            "income": income,
            "sex": sex,
            "age_band": age_band,
            "ethnicity": ethnicity,
        }
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


@dataclass
class Builder:
    root: Path

    @property
    def store(self) -> EvidenceStore:
        return EvidenceStore(self.root / "evidence")

    def evidence(
        self,
        kind: str,
        name: str,
        data: bytes,
        *,
        attributes: dict[str, Any] | None = None,
        age_days: float = 10,
        media_type: str = "text/csv",
    ) -> Evidence:
        digest = sha256_hex(data)
        self.store.put_bytes(data, digest)
        return Evidence(
            kind=kind,
            name=name,
            sha256=digest,
            size=len(data),
            media_type=media_type,
            created_at=NOW - timedelta(days=age_days),
            attributes=attributes or {},
        )

    def predictions(self, *, biased: bool, **kw: Any) -> Evidence:
        return self.evidence(
            "predictions",
            "predictions.csv",
            csv_bytes(prediction_table(biased=biased, **kw)),
            attributes={
                "y_true": "default",
                "y_pred": "predicted",
                "sensitive": ["sex", "age_band", "ethnicity"],
                "pos_label": 1,
            },
        )

    def explanation(self, identity: str, kind: str = "permutation_importance") -> Evidence:
        doc = {
            "schema": "https://ordinance.dev/explainability/v1",
            "kind": kind,
            "model_identity": {"sha256": identity},
            "features": [
                {"name": "income", "importance_mean": 0.12},
                {"name": "debt_to_income", "importance_mean": 0.08},
            ],
        }
        return self.evidence(
            "explainability",
            f"{kind}-{identity[:8]}.json",
            canonical_json(doc),
            media_type="application/json",
        )

    def version(
        self,
        *,
        version: str = "1.0.0",
        biased: bool = False,
        risk_tier: str = "high",
        metrics: dict[str, float] | None = None,
        documentation: dict[str, str] | None = None,
        author: str = "alice@bank.example",
        evidence: Sequence[Evidence] | None = None,
        name: str = "credit-risk",
        drift_shift: float = 0.0,
    ) -> ModelVersion:
        identity = sha256_hex(f"{name}-{version}-weights".encode())
        if evidence is None:
            reference = prediction_table(biased=False, seed=11)[
                ["income", "sex", "age_band", "ethnicity"]
            ]
            evidence = [
                self.predictions(biased=biased, shift=drift_shift),
                self.evidence(
                    "datasheet",
                    "datasheet.md",
                    b"# Datasheet\nsynthetic\n",
                    age_days=60,
                    media_type="text/markdown",
                ),
                self.evidence(
                    "validation_report",
                    "validation.md",
                    f"# Validation of {version}\n".encode(),
                    age_days=30,
                    media_type="text/markdown",
                ),
                self.evidence("reference_data", "train.csv", csv_bytes(reference)),
                self.explanation(identity),
            ]
        return ModelVersion(
            model=Model(
                name=name,
                owner="credit-ml",
                risk_tier=risk_tier,  # type: ignore[arg-type]
                tags=("credit",),
            ),
            version=version,
            stage="development",
            author=author,
            created_at=NOW - timedelta(days=20),
            registered_at=NOW - timedelta(days=19),
            identity=Identity(sha256=identity),
            lineage=Lineage(
                datasets=(Dataset(name="train", uri="file:train.csv", sha256="a" * 64),),
                code=CodeRef(repository="https://git.example/credit", commit="abc123"),
                training_run="runs:/1",
                environment={"python": "3.11"},
            ),
            metrics=metrics if metrics is not None else {"auc": 0.81, "accuracy": 0.85},
            documentation=documentation if documentation is not None else dict(DOCS),
            evidence=tuple(evidence),
        )

    def ctx(
        self,
        *,
        champion: ModelVersion | None = None,
        approvals: Sequence[Approval] = (),
        waivers: Sequence[Waiver] = (),
        now: datetime = NOW,
        store: bool = True,
    ) -> EvaluationContext:
        return EvaluationContext(
            now=now,
            evidence=self.store if store else None,
            champion=(lambda model, stage: champion) if champion is not None else None,
            approvals=tuple(approvals),
            waivers=tuple(waivers),
        )


def approval(
    v: ModelVersion,
    approver: str,
    *roles: str,
    stage: str = "production",
    age_days: float = 1,
    **kw: Any,
) -> Approval:
    fields: dict[str, Any] = {
        "approver": approver,
        "roles": frozenset(roles),
        "model": v.model.name,
        "version": v.version,
        "identity_sha256": v.identity.sha256,
        "stage": stage,
        "signed_at": NOW - timedelta(days=age_days),
        "digest": sha256_hex(approver.encode()),
    }
    fields.update(kw)
    return Approval(**fields)


@pytest.fixture
def build(tmp_path: Path) -> Builder:
    return Builder(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path

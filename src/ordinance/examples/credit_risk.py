"""A seeded, synthetic credit-scoring data set and model, written as an Ordinance version.

The data mimic a consumer-credit book: applicants with income, debt-to-income ratio,
credit history, late payments, loan amount and employment, and three sensitive
attributes (sex, age band, ethnicity). Default risk depends on the financial
features only; a ``postcode_risk`` feature is a proxy correlated with ethnicity
(historic redlining), so a model that uses it has unequal error rates across groups.

``write_version`` trains a scikit-learn model, saves it with skops (never pickle),
writes the prediction table on held-out data, a datasheet and a manifest.
Variant ``proxy`` uses the proxy feature (and fails a fairness rule); variant
``fair`` leaves it out (and passes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

FEATURES = [
    "income",
    "debt_to_income",
    "credit_history_years",
    "late_payments",
    "loan_amount",
    "employment_years",
]
PROXY = "postcode_risk"
SENSITIVE = ["sex", "age_band", "ethnicity"]
TRUSTED_TYPES: list[str] = []  # scikit-learn pipelines of standard estimators need none


def generate_applicants(n: int, seed: int) -> pd.DataFrame:
    """``n`` synthetic applicants with a ``default`` label (1 = defaulted)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=n, p=[0.48, 0.52])
    age = rng.integers(19, 76, size=n)
    age_band = np.where(
        age < 25, "18-24", np.where(age < 40, "25-39", np.where(age < 60, "40-59", "60+"))
    )
    ethnicity = rng.choice(["group_a", "group_b", "group_c"], size=n, p=[0.62, 0.25, 0.13])
    income = np.round(rng.lognormal(mean=10.6, sigma=0.45, size=n), -2)
    employment_years = np.clip(rng.gamma(2.0, 3.0, size=n), 0, age - 18).round(1)
    credit_history = np.clip(age - 18 - rng.exponential(3.0, size=n), 0, None).round(1)
    debt_to_income = np.clip(rng.beta(2.0, 5.0, size=n) * 0.9, 0.01, 0.9).round(3)
    late = rng.poisson(np.where(debt_to_income > 0.35, 1.4, 0.5))
    loan = np.round(income * rng.uniform(0.1, 0.6, size=n), -2)
    # A postcode-level risk score: informative of default only through its correlation with
    # the financial features, but strongly tied to ethnicity (historic redlining).
    eth_shift = np.select([ethnicity == "group_b", ethnicity == "group_c"], [0.9, 0.5], 0.0)
    postcode = np.round(eth_shift + 0.8 * (debt_to_income - 0.25) + rng.normal(0, 0.35, size=n), 3)
    logit = (
        -1.1
        + 4.2 * (debt_to_income - 0.25)
        + 0.55 * late
        - 0.9 * (np.log(income) - 10.6)
        - 0.05 * credit_history
        - 0.06 * employment_years
        + 0.9 * (loan / income - 0.35)
    )
    p = 1 / (1 + np.exp(-logit))
    default = (rng.uniform(size=n) < p).astype(int)
    return pd.DataFrame(
        {
            "applicant_id": np.arange(1, n + 1),
            "income": income,
            "debt_to_income": debt_to_income,
            "credit_history_years": credit_history,
            "late_payments": late,
            "loan_amount": loan,
            "employment_years": employment_years,
            PROXY: postcode,
            "sex": sex,
            "age_band": age_band,
            "ethnicity": ethnicity,
            "default": default,
        }
    )


@dataclass(frozen=True)
class WrittenVersion:
    directory: Path
    manifest: Path
    predictions: Path
    model: Path
    test_data: Path
    metrics: dict[str, float]


def write_version(
    out: Path,
    *,
    version: str,
    variant: Literal["proxy", "fair"],
    rows: int = 4000,
    seed: int = 7,
    parent: str | None = None,
    created_at: datetime | None = None,
    documentation: dict[str, str] | None = None,
) -> WrittenVersion:
    """Train a model on the synthetic data and write a complete Ordinance version to ``out``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skops.io import dump

    out.mkdir(parents=True, exist_ok=True)
    data = generate_applicants(rows, seed)
    split = int(rows * 0.7)
    train, test = data.iloc[:split], data.iloc[split:]
    features = FEATURES + ([PROXY] if variant == "proxy" else [])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
    model.fit(train[features], train["default"].to_numpy())
    score = model.predict_proba(test[features])[:, 1]
    threshold = 0.5 if variant == "fair" else 0.42
    pred = (score >= threshold).astype(int)
    if variant == "proxy":
        # The proxy variant also adds a postcode overlay rule: high-risk postcodes are declined.
        pred = np.where(test[PROXY].to_numpy() > 1.0, 1, pred)

    model_dir = out / "model"
    model_dir.mkdir(exist_ok=True)
    model_path = model_dir / "model.skops"
    dump(model, model_path)
    (model_dir / "model.json").write_text(
        json.dumps({"features": features, "threshold": threshold, "format": "skops"}, indent=2)
    )
    train_path = out / "train.csv"
    train.to_csv(train_path, index=False)
    test_path = out / "test.csv"
    test.to_csv(test_path, index=False)
    preds = pd.DataFrame(
        {
            "applicant_id": test["applicant_id"].to_numpy(),
            "default": test["default"].to_numpy(),
            "predicted_default": pred,
            "score": np.round(score, 6),
            "sex": test["sex"].to_numpy(),
            "age_band": test["age_band"].to_numpy(),
            "ethnicity": test["ethnicity"].to_numpy(),
        }
    )
    pred_path = out / "predictions.csv"
    preds.to_csv(pred_path, index=False)
    metrics = {
        "auc": round(float(roc_auc_score(test["default"], score)), 4),
        "accuracy": round(float(accuracy_score(test["default"], pred)), 4),
        "approval_rate": round(float(1 - pred.mean()), 4),
    }
    datasheet = out / "datasheet.md"
    datasheet.write_text(
        "# Datasheet: synthetic consumer-credit applicants\n\n"
        f"- Rows: {rows} (seed {seed}); 70% training, 30% held-out evaluation.\n"
        "- Label: `default` (1 = the applicant defaulted within 12 months).\n"
        "- Sensitive attributes: sex, age band, ethnicity (synthetic; for fairness testing only).\n"
        f"- `{PROXY}` is correlated with ethnicity by construction.\n"
    )
    docs = (
        documentation
        if documentation is not None
        else {
            "summary": "Logistic-regression probability of default for consumer loan applications.",
            "intended_use": "Decision support for consumer-credit underwriters; a human reviews every decline.",
            "intended_users": "Credit underwriting team; model risk management.",
            "out_of_scope_uses": "Employment, housing or insurance decisions; fully automated declines.",
            "factors": "Sex, age band and ethnicity, evaluated singly and intersectionally.",
            "training_data": f"{split} synthetic applicants (see datasheet).",
            "evaluation_data": f"{rows - split} held-out synthetic applicants.",
            "limitations": "Synthetic data; not calibrated for thin-file applicants.",
            "ethical_considerations": "Postcode features can proxy for ethnicity; monitored by fairness rules.",
            "caveats_and_recommendations": "Revalidate quarterly; monitor drift in income distribution.",
            "license": "apache-2.0",
        }
    )
    created = created_at or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    manifest = {
        "apiVersion": "ordinance/v1",
        "model": {
            "name": "credit-risk",
            "owner": "credit-ml-team",
            "risk_tier": "high",
            "description": "Probability-of-default model for consumer loans (EU AI Act Annex III 5(b)).",
            "tags": ["credit", "tabular", "demo"],
        },
        "version": version,
        "author": "alice@bank.example",
        "created_at": created.isoformat(),
        "artifacts": {"path": "model"},
        "lineage": {
            "datasets": [
                {
                    "name": "applicants-train",
                    "uri": "file:train.csv",
                    "path": "train.csv",
                    "role": "training",
                },
                {
                    "name": "applicants-test",
                    "uri": "file:test.csv",
                    "path": "test.csv",
                    "role": "evaluation",
                },
            ],
            "code": {
                "repository": "https://git.bank.example/ml/credit-risk",
                "commit": f"{seed:07x}{version.replace('.', '')}",
            },
            "training_run": f"mlflow-runs:/credit-risk/{version}",
            **({"parent": parent} if parent else {}),
            "environment": {"python": "3.11", "scikit-learn": _sklearn_version()},
        },
        "metrics": metrics,
        "documentation": docs,
        "evidence": [
            {
                "kind": "predictions",
                "path": "predictions.csv",
                "description": "Held-out predictions with sensitive attributes.",
                "attributes": {
                    "y_true": "default",
                    "y_pred": "predicted_default",
                    "score": "score",
                    "threshold": threshold,
                    "sensitive": SENSITIVE,
                    "pos_label": 1,
                },
            },
            {"kind": "datasheet", "path": "datasheet.md"},
            {
                "kind": "model",
                "path": "model/model.skops",
                "name": "model.skops",
                "attributes": {
                    "format": "skops",
                    "trusted_types": TRUSTED_TYPES,
                    "features": features,
                },
            },
            {"kind": "reference_data", "path": "train.csv", "name": "train.csv"},
        ],
    }
    manifest_path = out / "manifest.yaml"
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return WrittenVersion(out, manifest_path, pred_path, model_path, test_path, metrics)


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)

"""Evidence computations: group fairness, data drift and explainability.

Pure computation: nothing here imports click or rich. See ``docs/fairness.md``.

* :func:`compute_fairness` → :class:`FairnessReport` (fairlearn metric names, equal to
  ``MetricFrame``, weighted or not; undefined rates are ``None``; optional bootstrap
  intervals) on a file, a Parquet dataset, a DataFrame or a :class:`SqlTable` (pushed down);
* :func:`compute_drift` → :class:`DriftReport` (PSI and two-sample KS per feature);
* :func:`compute_permutation_importance` → :class:`ExplainabilityArtifact` bound to a model
  identity digest; :func:`validate_explainability_artifact` and :func:`artifact_binds_to` for
  artifacts made elsewhere.
"""

from __future__ import annotations

from ordinance.metrics._sql import SqlTable
from ordinance.metrics.drift import DriftReport, FeatureDrift, compute_drift
from ordinance.metrics.explain import (
    ExplainabilityArtifact,
    artifact_binds_to,
    compute_permutation_importance,
    validate_explainability_artifact,
)
from ordinance.metrics.fairness import (
    AGGREGATIONS,
    METRICS,
    SUMMARIES,
    Disparity,
    FairnessReport,
    GroupMetrics,
    Interval,
    compute_fairness,
)

__all__ = [
    "AGGREGATIONS",
    "METRICS",
    "SUMMARIES",
    "Disparity",
    "DriftReport",
    "ExplainabilityArtifact",
    "FairnessReport",
    "FeatureDrift",
    "GroupMetrics",
    "Interval",
    "SqlTable",
    "artifact_binds_to",
    "compute_drift",
    "compute_fairness",
    "compute_permutation_importance",
    "validate_explainability_artifact",
]

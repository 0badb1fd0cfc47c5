"""Metadata sources other than a hand-written manifest.

Each integration reads facts from a tool teams already use and turns them into an
ordinary Ordinance manifest, which then goes through :meth:`ordinance.workspace.Workspace.register`
like any other: one registration path, one validation, one audit-log entry per version.

- :mod:`ordinance.integrations.mlflow` — registered model versions from an MLflow tracking
  server or store (``pip install 'ordinance[mlflow]'``).
"""

from __future__ import annotations

__all__: list[str] = []

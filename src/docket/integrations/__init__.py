"""Metadata sources other than a hand-written manifest.

Each integration reads facts from a tool teams already use and turns them into an
ordinary Docket manifest, which then goes through :meth:`docket.workspace.Workspace.register`
like any other: one registration path, one validation, one audit-log entry per version.

- :mod:`docket.integrations.mlflow` — registered model versions from an MLflow tracking
  server or store (``pip install 'docket[mlflow]'``).
"""

from __future__ import annotations

__all__: list[str] = []

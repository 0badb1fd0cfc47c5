"""The stage ladder: which stages exist, which are exclusive, where a demoted version goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ordinance.errors import InputError

if TYPE_CHECKING:
    from ordinance.workspace import WorkspaceConfig

__all__ = ["check_stage", "default_demote_to", "exclusive_stage", "is_exclusive"]


def check_stage(config: WorkspaceConfig, stage: str) -> None:
    """``InputError`` naming the configured stages when ``stage`` is not one of them."""
    if stage not in config.stages:
        raise InputError(f"unknown stage {stage!r}: one of {', '.join(config.stages)}")


def is_exclusive(config: WorkspaceConfig, stage: str) -> bool:
    """Whether ``stage`` holds at most one version of a model (``production``)."""
    return stage in config.exclusive_stages


def default_demote_to(config: WorkspaceConfig) -> str:
    """Where a replaced or archived version goes: ``archived``, else the last stage."""
    return "archived" if "archived" in config.stages else config.stages[-1]


def exclusive_stage(config: WorkspaceConfig) -> str:
    """The first exclusive stage (what ``rollback`` and ``history --at`` default to)."""
    if not config.exclusive_stages:
        raise InputError("the workspace has no exclusive stage to roll back")
    return config.exclusive_stages[0]

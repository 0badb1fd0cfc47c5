"""Rule types: the built-ins, and any a package adds through the ``ordinance.rules`` entry point.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."ordinance.rules"]
    "acme.latency" = "acme_ordinance:LatencyRule"

where ``LatencyRule`` implements :class:`RuleType` and its ``type_name`` equals the entry
point's name. Built-in names cannot be overridden by plugins.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import cast

from pydantic import BaseModel

from ordinance.policy.rules._base import Params, RuleType
from ordinance.policy.rules.approvals import ApprovalsRequired
from ordinance.policy.rules.drift import DriftThreshold
from ordinance.policy.rules.evidence import (
    ArtifactsIntegrity,
    EvidenceFresh,
    ExplainabilityRequired,
)
from ordinance.policy.rules.fairness import FairnessThreshold
from ordinance.policy.rules.lineage import DocumentationRequired, LineageRequired
from ordinance.policy.rules.metrics import MetricThreshold

__all__ = [
    "BUILTIN_RULE_TYPES",
    "ENTRY_POINT_GROUP",
    "Params",
    "RuleType",
    "UnknownRuleType",
    "clear_plugin_cache",
    "find_rule_type",
    "rule_type_names",
]

ENTRY_POINT_GROUP = "ordinance.rules"

BUILTIN_RULE_TYPES: dict[str, type[RuleType]] = {
    cls.type_name: cls
    for cls in (
        LineageRequired,
        MetricThreshold,
        FairnessThreshold,
        ApprovalsRequired,
        ExplainabilityRequired,
        DocumentationRequired,
        EvidenceFresh,
        ArtifactsIntegrity,
        DriftThreshold,
    )
}


class UnknownRuleType(LookupError):
    """No built-in or plugin rule type has this name (or the plugin failed to load)."""


@cache
def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def rule_type_names() -> list[str]:
    """Every known rule type name: built-ins first, then plugins."""
    return [*BUILTIN_RULE_TYPES, *sorted(n for n in _plugins() if n not in BUILTIN_RULE_TYPES)]


def find_rule_type(name: str) -> type[RuleType]:
    """The rule type class for ``name``; :class:`UnknownRuleType` with a reason if none."""
    builtin = BUILTIN_RULE_TYPES.get(name)
    if builtin is not None:
        return builtin
    ep = _plugins().get(name)
    if ep is None:
        raise UnknownRuleType(f"unknown rule type {name!r} (known: {', '.join(rule_type_names())})")
    try:
        cls = ep.load()
    except Exception as exc:
        raise UnknownRuleType(
            f"rule type {name!r}: plugin {ep.value!r} failed to load: {type(exc).__name__}: {exc}"
        ) from None
    params = getattr(cls, "Params", None)
    if not (
        isinstance(cls, type)
        and callable(getattr(cls, "evaluate", None))
        and isinstance(params, type)
        and issubclass(params, BaseModel)
    ):
        raise UnknownRuleType(
            f"rule type {name!r}: {ep.value!r} does not implement RuleType "
            "(a class with Params, evaluate and describe)"
        )
    if getattr(cls, "type_name", None) != name:
        raise UnknownRuleType(
            f"rule type {name!r}: {ep.value!r} says type_name {getattr(cls, 'type_name', None)!r}"
        )
    return cast(type[RuleType], cls)


def clear_plugin_cache() -> None:
    """Forget discovered plugins (after installing one in a running process, e.g. in tests)."""
    _plugins.cache_clear()

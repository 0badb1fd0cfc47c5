"""The policy engine: YAML policy packs evaluated on a model version for a target stage.

::

    from ordinance.policy import EvaluationContext, evaluate, load_packs

    packs = load_packs(["ordinance:baseline", "policies/team.yaml"])
    ev = evaluate(version, "production", packs, EvaluationContext(now=now, evidence=store))
    ev.verdict            # "pass" | "warn" | "fail"
    ev.to_dict()          # the stable JSON record (docs/ci-gate.md)

Loading problems raise :class:`~ordinance.errors.PolicyLoadError` (``file:line:col: field:
problem``, exit 2); rule failures and crashes are results, never exceptions.
"""

from __future__ import annotations

from ordinance.policy.context import Approval, EvaluationContext, EvidenceSource, RuleContext
from ordinance.policy.evaluate import (
    EVALUATION_SCHEMA,
    Evaluation,
    Finding,
    Verdict,
    WaiverUse,
    evaluate,
)
from ordinance.policy.formats import FORMATS, explain_pack, render
from ordinance.policy.pack import (
    PolicyPack,
    PolicySource,
    RuleSpec,
    Scope,
    load_pack,
    load_packs,
    shipped_pack_path,
    shipped_packs,
)
from ordinance.policy.results import RuleResult, Status
from ordinance.policy.rules import ENTRY_POINT_GROUP, Params, RuleType, rule_type_names
from ordinance.policy.waivers import Waiver, load_waivers

__all__ = [
    "ENTRY_POINT_GROUP",
    "EVALUATION_SCHEMA",
    "FORMATS",
    "Approval",
    "Evaluation",
    "EvaluationContext",
    "EvidenceSource",
    "Finding",
    "Params",
    "PolicyPack",
    "PolicySource",
    "RuleContext",
    "RuleResult",
    "RuleSpec",
    "RuleType",
    "Scope",
    "Status",
    "Verdict",
    "Waiver",
    "WaiverUse",
    "evaluate",
    "explain_pack",
    "load_pack",
    "load_packs",
    "load_waivers",
    "render",
    "rule_type_names",
    "shipped_pack_path",
    "shipped_packs",
]

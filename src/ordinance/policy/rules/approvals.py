"""``approvals.required``: enough verified approvals from the right roles, TUF-style.

Each approver fills at most one role slot (bipartite matching), so "1 validator and
1 risk-officer" needs two people even if one person holds both roles.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, Field, model_validator

from ordinance.policy.context import Approval, RuleContext
from ordinance.policy.results import RuleResult
from ordinance.policy.rules._base import Params, fmt


class ApprovalsParams(Params):
    #: role → how many distinct approvers holding it are needed
    roles: dict[str, int] = Field(default_factory=dict)
    #: distinct approvers needed in total (at least the sum of ``roles``)
    min_approvers: int = Field(default=0, ge=0)
    #: the version's author cannot approve it
    separation_of_duties: bool = True
    #: approvals signed longer ago than this do not count
    max_age_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _something_required(self) -> ApprovalsParams:
        for role, n in self.roles.items():
            if n < 1:
                raise ValueError(f"role {role!r} needs a count of at least 1 (got {n})")
        if not self.roles and self.min_approvers < 1:
            raise ValueError("require at least one role or min_approvers >= 1")
        return self

    @property
    def required(self) -> int:
        return max(sum(self.roles.values()), self.min_approvers)


def _match(slots: list[str], approvers: dict[str, frozenset[str]]) -> dict[int, str]:
    """Maximum matching of role slots to distinct approvers (Kuhn's augmenting paths)."""
    owner: dict[int, str] = {}

    def assign(name: str, seen: set[int]) -> bool:
        for i, role in enumerate(slots):
            if role in approvers[name] and i not in seen:
                seen.add(i)
                if i not in owner or assign(owner[i], seen):
                    owner[i] = name
                    return True
        return False

    for name in sorted(approvers):
        assign(name, set())
    return owner


class ApprovalsRequired:
    """Counts verified approvals for this version and stage per role."""

    type_name: ClassVar[str] = "approvals.required"
    Params: ClassVar[type[BaseModel]] = ApprovalsParams

    def __init__(self, params: ApprovalsParams) -> None:
        self.params = params

    def _reject_reason(self, a: Approval, ctx: RuleContext) -> str | None:
        v, p = ctx.version, self.params
        if (a.model, a.version) != (v.model.name, v.version):
            return f"approves {a.model}@{a.version}, not this version"
        if a.identity_sha256 != v.identity.sha256:
            return "approves a different model identity digest"
        if a.stage != ctx.stage:
            return f"approves stage {a.stage}, not {ctx.stage}"
        if a.revoked:
            return "revoked"
        if a.signed_at > ctx.now:
            return "signed in the future"
        if a.expires_at is not None and a.expires_at <= ctx.now:
            return f"expired {a.expires_at.isoformat()}"
        if p.max_age_days is not None and ctx.now - a.signed_at > timedelta(days=p.max_age_days):
            return f"older than {fmt(p.max_age_days)} days"
        if p.separation_of_duties and a.approver == v.author:
            return "approver is the version's author (separation of duties)"
        return None

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        p = self.params
        valid: dict[str, Approval] = {}
        rejected: list[dict[str, str]] = []
        for a in ctx.approvals:
            reason = self._reject_reason(a, ctx)
            if reason is not None:
                rejected.append({"approver": a.approver, "reason": reason})
            elif a.approver in valid:
                rejected.append({"approver": a.approver, "reason": "duplicate approver"})
            else:
                valid[a.approver] = a
        slots = [role for role, n in sorted(p.roles.items()) for _ in range(n)]
        owner = _match(slots, {name: a.roles for name, a in valid.items()})
        matched = len(owner)
        spare = len(valid) - matched
        required = p.required
        got = matched + min(spare, max(0, required - len(slots)))
        missing: dict[str, int] = {}
        for role in p.roles:
            filled = sum(1 for i, r in enumerate(slots) if r == role and i in owner)
            if filled < p.roles[role]:
                missing[role] = p.roles[role] - filled
        extra = max(0, required - len(slots) - spare) if len(slots) < required else 0
        measured: dict[str, Any] = {
            "approved": got,
            "required": required,
            "approvers": {n: sorted(a.roles) for n, a in sorted(valid.items())},
            "missing": missing,
            "rejected": rejected,
        }
        threshold = {
            "roles": dict(p.roles),
            "min_approvers": p.min_approvers,
            "separation_of_duties": p.separation_of_duties,
            "max_age_days": p.max_age_days,
        }
        digests = [a.digest for a in valid.values() if a.digest]
        head = f"{got} of {required} approvals"
        if missing or extra:
            parts = [r if n == 1 else f"{n}× {r}" for r, n in missing.items()]
            if extra:
                parts.append(f"{extra} more approver{'s' if extra > 1 else ''}")
            note = f"; rejected: {len(rejected)}" if rejected else ""
            return RuleResult.failed(
                f"{head}; missing: {', '.join(parts)}{note}",
                measured=measured,
                threshold=threshold,
                evidence=digests,
            )
        who = ", ".join(sorted(valid))
        return RuleResult.passed(
            f"{head} ({who})", measured=measured, threshold=threshold, evidence=digests
        )

    def describe(self) -> str:
        p = self.params
        parts = [f"{n} {role}" for role, n in sorted(p.roles.items())]
        text = "signed approvals for the target stage from distinct approvers"
        if parts:
            text += f": {', '.join(parts)}"
        if p.min_approvers > sum(p.roles.values()):
            text += f" ({p.min_approvers} approvers in total)"
        if p.separation_of_duties:
            text += "; the author cannot approve"
        if p.max_age_days is not None:
            text += f"; approvals older than {fmt(p.max_age_days)} days do not count"
        return text

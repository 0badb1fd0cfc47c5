"""The gate: the one place that decides what governs a version's move into a stage.

``check``, ``promote``, ``rollback``, ``archive``, ``approve`` and the Python API all ask a
:class:`Gate`, so ``ordinance check M@V --stage S`` and ``ordinance promote M@V --to S`` reach
the same verdict by construction. The decisions it owns::

    stage_policy       the packs that govern (stage, version): the stage's configured packs
                       plus the packs the version's risk tier adds; nothing is defaulted
    required_roles     the roles approvals for the stage need (from those packs)
    inputs             the signed approvals and waivers that count (re-verified), with every
                       rejection; only signed, recorded (or signed and verified) items count
    evaluate           every rule run, then the verdict:
                         pass / warn     nothing blocks
                         fail            a blocking rule failed or errored, no rule applied,
                                         or an exclusive stage has no policy configured
                         unguarded       a non-exclusive stage has no policy configured:
                                         nothing was evaluated, and the verdict says so
    check_registration a version's risk tier is one the workspace defines, and is present
                       when a configured pack scopes on it

The gate gets narrow collaborators (config, the directory pack paths are relative to, the
evidence store, the champion lookup, the approval collector), never the workspace.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ordinance.approvals.collect import Collected
from ordinance.errors import InputError
from ordinance.model import Model, ModelVersion

if TYPE_CHECKING:
    from ordinance.policy import Evaluation, PolicyPack
    from ordinance.policy.context import ChampionLookup, EvidenceSource
    from ordinance.policy.waivers import Waiver
    from ordinance.signing import Envelope
    from ordinance.workspace import Workspace, WorkspaceConfig

__all__ = [
    "Gate",
    "GateResult",
    "GateVerdict",
    "StagePolicy",
    "approval_notes",
    "collect_inputs",
    "policy_digests",
    "required_roles",
]

GateVerdict = Literal["pass", "warn", "fail", "unguarded"]


class ApprovalSource(Protocol):
    """Where the gate gets verified approvals and waivers (``ApprovalCollector`` fits)."""

    def collect(self, version: ModelVersion, stage: str, now: datetime) -> Collected: ...

    def verify_waiver(self, envelope: Envelope, version: ModelVersion, now: datetime) -> Waiver: ...


@dataclass(frozen=True)
class StagePolicy:
    """What governs one stage for one version: the packs and where each came from."""

    stage: str
    exclusive: bool
    #: pack references configured for the stage (``policies: {stage: [...]}``)
    refs: tuple[str, ...]
    #: pack references the version's risk tier adds (``risk_tiers: {tier: [...]}``)
    tier_refs: tuple[str, ...]
    packs: tuple[PolicyPack, ...]

    @property
    def configured(self) -> bool:
        """The stage has policy configured (else nothing governs it)."""
        return bool(self.refs)

    def required_roles(self) -> frozenset[str]:
        """Every role an ``approvals.required`` rule of these packs asks for."""
        roles: set[str] = set()
        for pack in self.packs:
            for spec in pack.rules:
                if spec.type == "approvals.required":
                    roles.update(dict(spec.params.get("roles") or {}))
        return frozenset(roles)

    def digests(self) -> dict[str, str]:
        """``{pack name: sha256}`` (what an approval signs)."""
        return {p.name: p.sha256 for p in self.packs}

    def describe(self) -> str:
        if not self.configured:
            closed = "closed: it never opens by default" if self.exclusive else "unguarded"
            return f"no policy is configured for {self.stage} ({closed})"
        names = ", ".join(p.name for p in self.packs)
        return f"{self.stage} is governed by {names}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "exclusive": self.exclusive,
            "configured": self.configured,
            "refs": list(self.refs),
            "tier_refs": list(self.tier_refs),
            "packs": {p.name: p.sha256 for p in self.packs},
        }


@dataclass(frozen=True)
class GateResult:
    """The gate's answer for one version and stage: verdict, reasons and what it used."""

    version: ModelVersion
    stage: str
    policy: StagePolicy
    collected: Collected
    evaluation: Evaluation | None
    verdict: GateVerdict
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        """Nothing blocks the move (``pass``, ``warn`` or ``unguarded``)."""
        return self.verdict != "fail"

    def summary(self) -> str:
        head = f"{self.version.ref} → {self.stage}: {self.verdict}"
        if self.evaluation is None:
            return f"{head} ({self.policy.describe()})"
        counts = self.evaluation.counts()
        return f"{head} ({', '.join(f'{n} {s}' for s, n in counts.items() if n)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model.name,
            "version": self.version.version,
            "stage": self.stage,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "policy": self.policy.to_dict(),
            "evaluation": None if self.evaluation is None else self.evaluation.to_dict(),
            "rejected": [r.to_dict() for r in self.collected.rejected],
        }


def _scopes_on_tier(packs: Sequence[PolicyPack]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(who, tiers) for every pack or rule scope that depends on the risk tier."""
    for pack in packs:
        seen: set[str] = set()
        for spec in pack.rules:
            for who, scope in spec.scopes:
                if scope.risk_tiers is not None and who not in seen:
                    seen.add(who)
                    yield who, tuple(scope.risk_tiers)
        if pack.scope.risk_tiers is not None and pack.name not in seen:
            yield pack.name, tuple(pack.scope.risk_tiers)


@dataclass(frozen=True)
class Gate:
    """Decides, for a version and a stage, what governs the move and whether it may happen."""

    config: WorkspaceConfig
    #: directory relative pack paths in the config are resolved against
    policy_base: Path
    evidence: EvidenceSource | None
    champion: ChampionLookup | None
    approvals: ApprovalSource

    # -- what governs a stage ------------------------------------------------------------
    def _load(self, refs: Sequence[str]) -> tuple[PolicyPack, ...]:
        from ordinance.policy import load_packs

        packs = load_packs(list(refs), base=self.policy_base) if refs else ()
        for who, tiers in _scopes_on_tier(packs):
            unknown = sorted(set(tiers) - set(self.config.tier_names))
            if unknown:
                raise InputError(
                    f"{who} scopes on risk tier(s) {', '.join(unknown)}, which this workspace "
                    f"does not define (risk tiers: {', '.join(self.config.tier_names)})"
                )
        return tuple(packs)

    def stage_policy(self, stage: str, version: ModelVersion | None = None) -> StagePolicy:
        """The packs that govern ``stage`` (for ``version``'s risk tier, when given)."""
        from ordinance.stages import check_stage

        check_stage(self.config, stage)
        refs = tuple(self.config.policies.get(stage) or ())
        tier_refs: tuple[str, ...] = ()
        tier = None if version is None else version.model.risk_tier
        if refs and tier is not None and self.config.risk_tiers is not None:
            tier_refs = tuple(r for r in self.config.risk_tiers.get(tier, ()) if r not in refs)
        return StagePolicy(
            stage=stage,
            exclusive=stage in self.config.exclusive_stages,
            refs=refs,
            tier_refs=tier_refs,
            packs=self._load((*refs, *tier_refs)),
        )

    def preflight(self, stage: str) -> None:
        """Load every pack that may govern ``stage`` (whatever the tier), so a bad or hostile
        pack is refused before the caller takes a lock or writes anything."""
        refs = list(self.config.policies.get(stage) or ())
        for tier_refs in (self.config.risk_tiers or {}).values():
            refs.extend(r for r in tier_refs if r not in refs)
        self._load(refs)

    def required_roles(self, stage: str, version: ModelVersion | None = None) -> frozenset[str]:
        return self.stage_policy(stage, version).required_roles()

    # -- registration ----------------------------------------------------------------------
    def check_registration(self, model: Model) -> str | None:
        """Why a version of ``model`` may not be registered here (``None``: it may).

        Its risk tier must be one the workspace defines, and must be declared when any
        configured pack (of any stage or tier) scopes on the tier.
        """
        tier = model.risk_tier
        if tier is not None and tier not in self.config.tier_names:
            return (
                f"risk tier {tier!r} is not one this workspace defines "
                f"({', '.join(self.config.tier_names)})"
            )
        if tier is not None:
            return None
        if self.config.risk_tiers and any(self.config.risk_tiers.values()):
            return (
                "risk_tier is required: the workspace maps risk tiers to policy packs "
                f"(one of {', '.join(self.config.tier_names)})"
            )
        refs = sorted({r for rs in self.config.policies.values() for r in rs})
        for who, _ in _scopes_on_tier(self._load(refs)):
            return (
                f"risk_tier is required: configured policy {who} scopes on it "
                f"(one of {', '.join(self.config.tier_names)})"
            )
        return None

    # -- inputs and the verdict --------------------------------------------------------------
    def inputs(self, version: ModelVersion, stage: str, now: datetime) -> Collected:
        """Verified signed approvals for ``stage`` and signed waivers, with rejections."""
        return self.approvals.collect(version, stage, now)

    def evaluate(
        self,
        version: ModelVersion,
        stage: str,
        now: datetime,
        *,
        collected: Collected | None = None,
        signed_waivers: Sequence[Envelope] = (),
        packs: Sequence[PolicyPack] | None = None,
    ) -> GateResult:
        """Everything that governs ``version`` → ``stage``, evaluated at ``now``.

        ``signed_waivers`` are signed but unrecorded waiver envelopes (``check --waivers``),
        verified like recorded ones. ``packs`` replaces the stage's packs for an ad-hoc
        evaluation (``check --policy``): its result predicts nothing about a promotion.
        """
        policy = self.stage_policy(stage, version)
        if packs is not None:
            policy = StagePolicy(stage, policy.exclusive, ("(ad hoc)",), (), tuple(packs))
        if collected is None:
            collected = self.inputs(version, stage, now)
        if signed_waivers:
            extra = tuple(self.approvals.verify_waiver(e, version, now) for e in signed_waivers)
            collected = Collected(
                collected.approvals, (*collected.waivers, *extra), collected.rejected
            )
        if not policy.packs:
            return self._unconfigured(version, stage, policy, collected)
        from ordinance.policy import EvaluationContext, evaluate

        ctx = EvaluationContext(
            now=now,
            evidence=self.evidence,
            champion=self.champion,
            approvals=collected.approvals,
            waivers=collected.waivers,
        )
        evaluation = evaluate(version, stage, policy.packs, ctx)
        reasons: list[str] = []
        if not evaluation.passed:
            reasons += evaluation.reasons()
            reasons += sorted(set(approval_notes(evaluation)))
            reasons += [
                f"{r.kind} by {r.approver} rejected: {r.reason}" for r in collected.rejected
            ]
        return GateResult(
            version, stage, policy, collected, evaluation, evaluation.verdict, tuple(reasons)
        )

    def _unconfigured(
        self, version: ModelVersion, stage: str, policy: StagePolicy, collected: Collected
    ) -> GateResult:
        if policy.exclusive:
            reason = (
                f"no policy is configured for {stage}, an exclusive stage: it never opens by "
                f"default (configure `policies: {{{stage}: [...]}}` in config.yaml)"
            )
            return GateResult(version, stage, policy, collected, None, "fail", (reason,))
        note = f"no policy is configured for {stage}: nothing was evaluated"
        return GateResult(version, stage, policy, collected, None, "unguarded", (), (note,))


# --------------------------------------------------------------------------- helpers


def approval_notes(evaluation: Evaluation) -> list[str]:
    """Why each rejected approval did not count (for a denial's reasons)."""
    notes: list[str] = []
    for f in evaluation.findings:
        if f.spec.type != "approvals.required" or not isinstance(f.result.measured, dict):
            continue
        for r in f.result.measured.get("rejected") or []:
            notes.append(f"approval by {r.get('approver')} does not count: {r.get('reason')}")
    return notes


def collect_inputs(ws: Workspace, version: ModelVersion, stage: str, now: datetime) -> Collected:
    """Verified approvals for ``stage`` and waivers, with every rejection."""
    return ws.gate().inputs(version, stage, now)


def policy_digests(
    ws: Workspace, stage: str, version: ModelVersion | None = None
) -> dict[str, str]:
    """``{pack name: sha256}`` of the packs that govern ``stage``."""
    return ws.gate().stage_policy(stage, version).digests()


def required_roles(
    ws: Workspace, stage: str, version: ModelVersion | None = None
) -> frozenset[str]:
    """Every role an ``approvals.required`` rule of the stage's packs asks for."""
    return ws.gate().required_roles(stage, version)

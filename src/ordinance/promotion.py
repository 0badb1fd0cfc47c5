"""The promotion pipeline: move a version between stages only when policy and approvals allow.

One function per step, in this order::

    verify_log_head        the log's newest checkpoint verifies and matches the stored tree
    resolve_version        the version's facts and the current holder of an exclusive stage
    Gate.evaluate          what governs the stage, the signed approvals and waivers that
                           count, every rule, the verdict (ordinance.gate: the same call
                           ``ordinance check`` makes, so the two cannot disagree)
    decide                 allowed or denied, with the gate's reasons
    record_decision        log the VSA and the transition(s) (or the denial), then move stages

A stage with no policy configured is ``unguarded`` (allowed, and the verdict says so); an
exclusive stage with none never opens.

Exclusive stages (``production``) hold at most one version of a model: promoting a new one
demotes the old one (to ``archived`` by default) in the same ``apply_transitions`` call, and
both moves are logged in the same log batch. Promotions of one model are serialized (a
PostgreSQL advisory lock, or a lock file next to the SQLite database) and
``apply_transitions`` refuses stale stages, so concurrent promotions end with exactly one
holder and a log that matches the registry.

Denied attempts are logged too (the FAILED VSA and a ``denied`` transition with reasons).

The pipeline receives its built collaborators (:class:`PromotionParts`: the config, the
database, the registry, the gate and the signing log), never the workspace; each step takes
only the ones it uses. :meth:`ordinance.workspace.Workspace.promotion` builds them, and
``ordinance.promote``/``ordinance.rollback`` are the convenience entry points that take a
workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ordinance.approvals.collect import Collected
from ordinance.errors import (
    CheckFailed,
    ConflictError,
    InputError,
)
from ordinance.gate import GateResult
from ordinance.model import ModelVersion
from ordinance.recording import record_evaluation
from ordinance.records import Transition
from ordinance.stages import check_stage, default_demote_to, exclusive_stage
from ordinance.store._approval_tables import ts
from ordinance.store.locks import model_lock
from ordinance.store.registry import TransitionRecord
from ordinance.store.transaction import write_transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ordinance.gate import Gate
    from ordinance.log import TransparencyLog
    from ordinance.policy import Evaluation
    from ordinance.store.registry import SqlRegistry
    from ordinance.workspace import WorkspaceConfig

__all__ = [
    "LogHead",
    "PromotionDecision",
    "PromotionParts",
    "archive",
    "decide",
    "promote",
    "record_decision",
    "resolve_version",
    "rollback",
    "verify_log_head",
]

MAX_ATTEMPTS = 3


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class PromotionParts:
    """What the promotion pipeline works with, built once by the composition root."""

    #: stages, exclusive stages, where a demoted holder goes
    config: WorkspaceConfig
    #: the database: the per-model promotion lock and the write transaction
    engine: Engine
    registry: SqlRegistry
    gate: Gate
    #: opens the signing log; refuses (nothing written) when the workspace cannot log
    open_log: Callable[[], TransparencyLog]


@dataclass(frozen=True)
class LogHead:
    """The log checkpoint a decision was taken against."""

    size: int
    root: str

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root}


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of one promotion attempt: data, with the reasons and log indexes."""

    model: str
    version: str
    kind: str  # promote | rollback | archive
    from_stage: str
    to_stage: str
    actor: str
    at: datetime
    allowed: bool
    reasons: tuple[str, ...]
    evaluation: Evaluation | None
    collected: Collected
    log_head: LogHead
    demoted: str | None = None
    demote_to: str | None = None
    evaluation_log_index: int | None = None
    log_indexes: tuple[int, ...] = ()
    attempts: int = 1
    #: the gate's verdict: pass, warn, fail or unguarded (no policy configured)
    policy_verdict: str = "fail"
    notes: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        return "promoted" if self.allowed else "denied"

    @property
    def verdict(self) -> str:
        """The gate's verdict (``unguarded`` when no policy governs the stage)."""
        return self.policy_verdict

    def details(self) -> dict[str, Any]:
        """What the transition records say about the decision (also logged)."""
        ev = self.evaluation
        policy = None
        if ev is not None:
            uri, digest = ev.policy_digest()
            policy = {"uri": uri, "sha256": digest}
        return {
            "request": self.kind,
            "verdict": self.verdict,
            "policy": policy,
            "policies": {} if ev is None else {p.name: p.sha256 for p in ev.packs},
            "evaluationLogIndex": self.evaluation_log_index,
            "approvals": [
                {"approver": a.approver, "roles": sorted(a.roles), "digest": a.digest}
                for a in self.collected.approvals
            ],
            "waivers": []
            if ev is None
            else [
                {"id": w.waiver.id, "rule": w.waiver.rule, "digest": w.waiver.digest}
                for w in ev.waivers
                if w.status == "applied"
            ],
            "rejected": [r.to_dict() for r in self.collected.rejected],
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "logHead": self.log_head.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "kind": self.kind,
            "outcome": self.outcome,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "actor": self.actor,
            "at": ts(self.at),
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "demoted": None
            if self.demoted is None
            else {"version": self.demoted, "to_stage": self.demote_to},
            "approvals": [a.to_dict() for a in self.collected.approvals],
            "waivers": [w.to_dict() for w in self.collected.waivers],
            "rejected": [r.to_dict() for r in self.collected.rejected],
            "evaluation_log_index": self.evaluation_log_index,
            "log_indexes": list(self.log_indexes),
            "log_head": self.log_head.to_dict(),
            "attempts": self.attempts,
        }

    def summary(self) -> str:
        ref = f"{self.model}@{self.version}"
        if self.allowed:
            line = f"{ref}: {self.from_stage} → {self.to_stage} ({self.kind}, by {self.actor})"
            if self.demoted:
                line += f"; {self.model}@{self.demoted} → {self.demote_to}"
            return line
        return f"{ref}: {self.kind} to {self.to_stage} DENIED: " + "; ".join(self.reasons)

    def raise_for_denial(self) -> None:
        if not self.allowed:
            raise CheckFailed(self.summary())


# --------------------------------------------------------------------------- steps


def verify_log_head(log: TransparencyLog) -> LogHead:
    """Step 1: the log verifies from the last verified head up to its newest checkpoint.

    Verified incrementally from the workspace's trusted head: every entry added since is
    re-hashed and folded into the trusted frontier, so a rewritten or forged history fails
    here, before anything is decided or signed (exit 1, naming the entry)."""
    head = log.trusted_head()
    return LogHead(head.size, head.root.hex())


def resolve_version(
    registry: SqlRegistry, exclusive_stages: tuple[str, ...], model: str, version: str, stage: str
) -> tuple[ModelVersion, ModelVersion | None]:
    """Step 2: the version (fresh from the registry) and the current holder of ``stage``
    when it is exclusive."""
    v = registry.get_version(model, version)
    holder = None
    if stage in exclusive_stages:
        holder = registry.find_version_in_stage(model, stage)
        if holder is not None and holder.version == v.version:
            holder = None
    return v, holder


def decide(
    *,
    result: GateResult,
    kind: str,
    actor: str,
    now: datetime,
    holder: ModelVersion | None,
    demote_to: str,
    log_head: LogHead,
) -> PromotionDecision:
    """Step 4: allowed iff the gate lets the version through; the gate's reasons are the
    denial's reasons."""
    version = result.version
    allowed = result.allowed
    return PromotionDecision(
        model=version.model.name,
        version=version.version,
        kind=kind,
        from_stage=version.stage,
        to_stage=result.stage,
        actor=actor,
        at=now,
        allowed=allowed,
        reasons=result.reasons,
        evaluation=result.evaluation,
        collected=result.collected,
        log_head=log_head,
        demoted=holder.version if (allowed and holder is not None) else None,
        demote_to=demote_to if (allowed and holder is not None) else None,
        policy_verdict=result.verdict,
        notes=result.notes,
    )


def record_decision(
    parts: PromotionParts,
    log: TransparencyLog,
    decision: PromotionDecision,
    version: ModelVersion,
    holder: ModelVersion | None,
) -> PromotionDecision:
    """Step 5: log the VSA and the transition(s) (or the denial), then move the stages.

    The log batch (the demotion and the promotion) and the stage changes are written in one
    transaction. If a stage changed underneath (``ConflictError``) nothing is written, an
    ``aborted`` entry records the attempt and the caller retries.
    """
    registry = parts.registry
    eval_index = None
    if decision.evaluation is not None:
        eval_index = record_evaluation(
            decision.evaluation, log=log, registry=registry, engine=parts.engine
        )
    decision = replace(decision, evaluation_log_index=eval_index)
    details = decision.details()
    moves: list[tuple[ModelVersion, Transition]] = []
    if decision.allowed and holder is not None and decision.demote_to is not None:
        reason = f"replaced by {version.ref} in {decision.to_stage}"
        demote_details = {**details, "replacedBy": version.version}
        moves.append(
            (
                holder,
                _transition(holder, decision, decision.demote_to, "demote", reason, demote_details),
            )
        )
    kind = decision.kind if decision.allowed else "denied"
    reason = "; ".join(decision.reasons) if not decision.allowed else f"{decision.kind} allowed"
    moves.append(
        (version, _transition(version, decision, decision.to_stage, kind, reason, details))
    )
    stmts = [t for _, t in moves]
    records = [_index_row(v, t) for v, t in moves]
    try:
        # the log entries and the stage changes commit together or not at all
        with write_transaction(parts.engine, "promotion") as conn:
            indexes = log.append_statements_in(conn, [t.to_statement() for t in stmts])
            records = [replace(r, log_index=i) for r, i in zip(records, indexes, strict=True)]
            registry.apply_transitions_in(conn, records)
    except ConflictError as exc:
        # nothing was written; the attempt is still on the record
        reason = f"not applied: {exc.message}"
        abort = _transition(version, decision, decision.to_stage, "aborted", reason, {})
        log.append_statements([abort.to_statement()])
        raise
    return replace(decision, log_indexes=tuple(indexes))


def _transition(
    version: ModelVersion,
    decision: PromotionDecision,
    to_stage: str,
    kind: str,
    reason: str,
    details: dict[str, Any],
) -> Transition:
    """The logged statement of one move of ``version`` (from its current stage) by the
    decision's actor at the decision's time."""
    return Transition.of(
        version,
        from_stage=version.stage,
        to_stage=to_stage,
        actor=decision.actor,
        at=decision.at,
        kind=kind,
        reason=reason,
        details=details,
    )


def _index_row(version: ModelVersion, t: Transition) -> TransitionRecord:
    """The registry's row for a logged transition of ``version``."""
    return TransitionRecord(
        model=version.model.name,
        version=version.version,
        from_stage=t.from_stage,
        to_stage=t.to_stage,
        actor=t.actor,
        at=t.at,
        kind=t.kind,
        reason=t.reason,
        details=dict(t.details),
    )


# --------------------------------------------------------------------------- entry points


def _run(
    parts: PromotionParts,
    model: str,
    version: str,
    to_stage: str,
    actor: str,
    now: datetime,
    kind: str,
    demote_to: str | None,
    precheck: Callable[[ModelVersion], None] | None = None,
) -> PromotionDecision:
    config = parts.config
    check_stage(config, to_stage)
    target_demote = demote_to or default_demote_to(config)
    check_stage(config, target_demote)
    if target_demote == to_stage:
        raise InputError(f"cannot demote the old {to_stage} version to {to_stage}")
    gate = parts.gate
    gate.preflight(to_stage)  # bad policy files fail here, before the lock
    # promotions must be logged: refused here when the workspace cannot log; the key is
    # loaded (and decrypted) once, before the lock
    log = parts.open_log()
    last: ConflictError | None = None
    with model_lock(parts.engine, model):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            head = verify_log_head(log)
            v, holder = resolve_version(
                parts.registry, config.exclusive_stages, model, version, to_stage
            )
            if v.stage == to_stage:
                raise InputError(f"{v.ref} is already in {to_stage}")
            if precheck is not None:
                precheck(v)
            result = gate.evaluate(v, to_stage, now)
            decision = decide(
                result=result,
                kind=kind,
                actor=actor,
                now=now,
                holder=holder,
                demote_to=target_demote,
                log_head=head,
            )
            try:
                recorded = record_decision(parts, log, decision, v, holder)
            except ConflictError as exc:
                last = exc
                continue
            return replace(recorded, attempts=attempt)
    assert last is not None
    raise last


def promote(
    parts: PromotionParts,
    model: str,
    version: str,
    to_stage: str,
    actor: str,
    now: datetime | None = None,
    *,
    demote_to: str | None = None,
) -> PromotionDecision:
    """Run the pipeline for ``model@version`` → ``to_stage``; the decision is logged either
    way. Call :meth:`PromotionDecision.raise_for_denial` to turn a denial into exit 1."""
    return _run(
        parts, model, version, to_stage, actor, now or datetime.now(UTC), "promote", demote_to
    )


def rollback(
    parts: PromotionParts,
    model: str,
    to_version: str,
    actor: str,
    now: datetime | None = None,
    *,
    stage: str | None = None,
) -> PromotionDecision:
    """Return a version that was in production before back to production (policy checked)."""
    target = stage or exclusive_stage(parts.config)
    was_there = any(
        t.version == to_version and t.to_stage == target and t.kind not in ("denied", "aborted")
        for t in parts.registry.transitions(model)
    )

    def precheck(v: ModelVersion) -> None:
        if not was_there:
            raise InputError(
                f"{v.ref} was never in {target}: rollback only returns a previous {target} "
                "version (use `ordinance promote`)"
            )

    return _run(
        parts,
        model,
        to_version,
        target,
        actor,
        now or datetime.now(UTC),
        "rollback",
        None,
        precheck,
    )


def archive(
    parts: PromotionParts, model: str, version: str, actor: str, now: datetime | None = None
) -> PromotionDecision:
    """Move a version to the archive stage (policies apply only if configured for it)."""
    return _run(
        parts,
        model,
        version,
        default_demote_to(parts.config),
        actor,
        now or datetime.now(UTC),
        "archive",
        parts.config.stages[0],
    )

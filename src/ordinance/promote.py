"""The promotion pipeline: move a version between stages only when policy and approvals allow.

One function per step, in this order (approvals are collected before the evaluation because
the ``approvals.required`` rule consumes them)::

    verify_log_head        the log's newest checkpoint verifies and matches the stored tree
    load_stage_policies    the packs configured for the target stage
    resolve_version        the version's facts and the current holder of an exclusive stage
    collect_inputs         verified signed approvals and waivers (with every rejection)
    evaluate_version       every rule, approvals and waivers injected, clock injected
    decide                 allowed or denied, with reasons
    record_decision        log the VSA and the transition(s) (or the denial), then move stages

Exclusive stages (``production``) hold at most one version of a model: promoting a new one
demotes the old one (to ``archived`` by default) in the same ``apply_transitions`` call, and
both moves are logged in the same log batch. Promotions of one model are serialized (a
PostgreSQL advisory lock, or a lock file next to the SQLite database) and
``apply_transitions`` refuses stale stages, so concurrent promotions end with exactly one
holder and a log that matches the registry.

Denied attempts are logged too (the FAILED VSA and a ``denied`` transition with reasons).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from ordinance import statements
from ordinance.approvals import Collected, collect_approvals, collect_waivers
from ordinance.errors import (
    CheckFailed,
    ConflictError,
    InfrastructureError,
    InputError,
    NotFoundError,
    VerificationError,
)
from ordinance.model import ModelVersion
from ordinance.store._approval_tables import ts
from ordinance.store.registry import TransitionRecord

if TYPE_CHECKING:
    from ordinance.policy import Evaluation, PolicyPack
    from ordinance.workspace import Workspace

__all__ = [
    "DEFAULT_EXCLUSIVE_PACKS",
    "History",
    "HistoryEvent",
    "LogHead",
    "PromotionDecision",
    "archive",
    "collect_inputs",
    "decide",
    "evaluate_version",
    "history",
    "holder_at",
    "load_stage_policies",
    "promote",
    "promotion_story",
    "record_decision",
    "resolve_version",
    "rollback",
    "verify_log_head",
]

#: Packs evaluated for an exclusive stage that has none configured (fail closed).
DEFAULT_EXCLUSIVE_PACKS: tuple[str, ...] = ("ordinance:baseline",)
MAX_ATTEMPTS = 3


# --------------------------------------------------------------------------- values


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

    @property
    def outcome(self) -> str:
        return "promoted" if self.allowed else "denied"

    @property
    def verdict(self) -> str | None:
        return None if self.evaluation is None else self.evaluation.verdict

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


def verify_log_head(ws: Workspace) -> LogHead:
    """Step 1: the newest checkpoint is signed by the workspace key and matches the tree."""
    from ordinance.log import Checkpoint, SignedNote, verify_note
    from ordinance.signing import parse_vkey

    if not ws.log_key_path.is_file():
        raise InfrastructureError(
            f"the workspace has no log key at {ws.log_key_path}: promotions must be logged"
        )
    log = ws.audit_log()
    try:
        note_text = log.latest_checkpoint()
    except NotFoundError:
        return LogHead(0, hashlib.sha256(b"").hexdigest())
    note = SignedNote.parse(note_text)
    verify_note(note, [parse_vkey(ws.vkey())])
    cp = Checkpoint.from_text(note.text)
    if cp.origin != ws.config.log_origin:
        raise VerificationError(f"log checkpoint origin {cp.origin!r} is not this workspace's")
    if log.root_at(cp.size) != cp.root:
        raise VerificationError(
            f"the stored log tree does not match its signed checkpoint at size {cp.size}"
        )
    return LogHead(cp.size, cp.root.hex())


def load_stage_policies(ws: Workspace, stage: str) -> tuple[PolicyPack, ...]:
    """Step 2: the stage's configured packs (``ordinance:baseline`` for an unconfigured
    exclusive stage; none for other unconfigured stages)."""
    from ordinance.policy import load_packs

    refs = ws.config.policies.get(stage) or []
    if not refs and stage in ws.config.exclusive_stages:
        refs = list(DEFAULT_EXCLUSIVE_PACKS)
    return load_packs(refs, base=ws.home) if refs else ()


def resolve_version(
    ws: Workspace, model: str, version: str, stage: str
) -> tuple[ModelVersion, ModelVersion | None]:
    """Step 3: the version (fresh from the registry) and the current holder of ``stage``
    when it is exclusive."""
    registry = ws.registry()
    v = registry.get_version(model, version)
    holder = None
    if stage in ws.config.exclusive_stages:
        holder = registry.find_version_in_stage(model, stage)
        if holder is not None and holder.version == v.version:
            holder = None
    return v, holder


def collect_inputs(ws: Workspace, version: ModelVersion, stage: str, now: datetime) -> Collected:
    """Step 4: verified approvals for ``stage`` and waivers, with every rejection."""
    approvals, bad_a = collect_approvals(ws, version, stage, now)
    waivers, bad_w = collect_waivers(ws, version, now)
    return Collected(tuple(approvals), tuple(waivers), tuple(bad_a + bad_w))


def evaluate_version(
    ws: Workspace,
    version: ModelVersion,
    stage: str,
    packs: Sequence[PolicyPack],
    collected: Collected,
    now: datetime,
) -> Evaluation | None:
    """Step 5: evaluate every rule with the collected approvals and waivers injected."""
    from ordinance.policy import EvaluationContext, evaluate

    if not packs:
        return None
    ctx = EvaluationContext(
        now=now,
        evidence=ws.evidence,
        champion=ws.registry().find_version_in_stage,
        approvals=collected.approvals,
        waivers=collected.waivers,
    )
    return evaluate(version, stage, packs, ctx)


def _approval_notes(evaluation: Evaluation) -> list[str]:
    notes: list[str] = []
    for f in evaluation.findings:
        if f.spec.type != "approvals.required" or not isinstance(f.result.measured, dict):
            continue
        for r in f.result.measured.get("rejected") or []:
            notes.append(f"approval by {r.get('approver')} does not count: {r.get('reason')}")
    return notes


def decide(
    *,
    version: ModelVersion,
    kind: str,
    to_stage: str,
    actor: str,
    now: datetime,
    evaluation: Evaluation | None,
    collected: Collected,
    holder: ModelVersion | None,
    demote_to: str,
    log_head: LogHead,
) -> PromotionDecision:
    """Step 6: allowed iff nothing blocks; reasons name each blocking rule and rejection."""
    reasons: list[str] = []
    if evaluation is not None:
        for f in evaluation.blocking:
            reasons.append(f"{f.key}: {f.result.detail}")
        if not evaluation.passed:
            reasons += sorted(set(_approval_notes(evaluation)))
    allowed = not reasons
    if not allowed:
        reasons += [f"{r.kind} by {r.approver} rejected: {r.reason}" for r in collected.rejected]
    return PromotionDecision(
        model=version.model.name,
        version=version.version,
        kind=kind,
        from_stage=version.stage,
        to_stage=to_stage,
        actor=actor,
        at=now,
        allowed=allowed,
        reasons=tuple(reasons),
        evaluation=evaluation,
        collected=collected,
        log_head=log_head,
        demoted=holder.version if (allowed and holder is not None) else None,
        demote_to=demote_to if (allowed and holder is not None) else None,
    )


def record_decision(
    ws: Workspace, decision: PromotionDecision, version: ModelVersion, holder: ModelVersion | None
) -> PromotionDecision:
    """Step 7: log the VSA and the transition(s) (or the denial), then move the stages.

    The log batch (the demotion and the promotion) and the stage changes are written in one
    transaction. If a stage changed underneath (``ConflictError``) nothing is written, an
    ``aborted`` entry records the attempt and the caller retries.
    """
    log = ws.audit_log()
    eval_index = None
    if decision.evaluation is not None:
        eval_index = ws.record_evaluation(decision.evaluation)
    decision = replace(decision, evaluation_log_index=eval_index)
    details = decision.details()
    stmts: list[dict[str, Any]] = []
    records: list[TransitionRecord] = []
    if decision.allowed and holder is not None and decision.demote_to is not None:
        reason = f"replaced by {version.ref} in {decision.to_stage}"
        demote_details = {**details, "replacedBy": version.version}
        stmts.append(
            statements.transition(
                holder,
                from_stage=holder.stage,
                to_stage=decision.demote_to,
                actor=decision.actor,
                at=decision.at,
                kind="demote",
                reason=reason,
                details=demote_details,
            )
        )
        records.append(
            TransitionRecord(
                model=holder.model.name,
                version=holder.version,
                from_stage=holder.stage,
                to_stage=decision.demote_to,
                actor=decision.actor,
                at=decision.at,
                kind="demote",
                reason=reason,
                details=demote_details,
            )
        )
    kind = decision.kind if decision.allowed else "denied"
    reason = "; ".join(decision.reasons) if not decision.allowed else f"{decision.kind} allowed"
    stmts.append(
        statements.transition(
            version,
            from_stage=version.stage,
            to_stage=decision.to_stage,
            actor=decision.actor,
            at=decision.at,
            kind=kind,
            reason=reason,
            details=details,
        )
    )
    records.append(
        TransitionRecord(
            model=version.model.name,
            version=version.version,
            from_stage=version.stage,
            to_stage=decision.to_stage,
            actor=decision.actor,
            at=decision.at,
            kind=kind,
            reason=reason,
            details=details,
        )
    )
    registry = ws.registry()
    try:
        # the log entries and the stage changes commit together or not at all
        with ws.write_transaction("promotion") as conn:
            indexes = log.append_statements_in(conn, stmts)
            records = [replace(r, log_index=i) for r, i in zip(records, indexes, strict=True)]
            registry.apply_transitions_in(conn, records)
    except ConflictError as exc:
        # nothing was written; the attempt is still on the record
        abort = statements.transition(
            version,
            from_stage=version.stage,
            to_stage=decision.to_stage,
            actor=decision.actor,
            at=decision.at,
            kind="aborted",
            reason=f"not applied: {exc.message}",
            details={},
        )
        log.append_statements([abort])
        raise
    return replace(decision, log_indexes=tuple(indexes))


# --------------------------------------------------------------------------- serialization


def _lock_key(model: str) -> int:
    digest = hashlib.sha256(f"ordinance.promote:{model}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def model_lock(ws: Workspace, model: str) -> Iterator[None]:
    """Serialize promotions of one model across processes.

    PostgreSQL: a session-level advisory lock on a dedicated connection. SQLite: an
    exclusive ``flock`` on a lock file next to the database file.
    """
    engine = ws.engine()
    if engine.dialect.name == "postgresql":
        key = _lock_key(model)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(f"{database}.promote-{_lock_key(model) & 0xFFFFFFFF:08x}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- entry points


def _check_stage(ws: Workspace, stage: str) -> None:
    if stage not in ws.config.stages:
        raise InputError(f"unknown stage {stage!r}: one of {', '.join(ws.config.stages)}")


def _default_demote_to(ws: Workspace) -> str:
    return "archived" if "archived" in ws.config.stages else ws.config.stages[-1]


def _run(
    ws: Workspace,
    model: str,
    version: str,
    to_stage: str,
    actor: str,
    now: datetime,
    kind: str,
    demote_to: str | None,
    precheck: Callable[[ModelVersion], None] | None = None,
) -> PromotionDecision:
    _check_stage(ws, to_stage)
    target_demote = demote_to or _default_demote_to(ws)
    _check_stage(ws, target_demote)
    if target_demote == to_stage:
        raise InputError(f"cannot demote the old {to_stage} version to {to_stage}")
    packs = load_stage_policies(ws, to_stage)
    last: ConflictError | None = None
    with model_lock(ws, model):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            head = verify_log_head(ws)
            v, holder = resolve_version(ws, model, version, to_stage)
            if v.stage == to_stage:
                raise InputError(f"{v.ref} is already in {to_stage}")
            if precheck is not None:
                precheck(v)
            collected = collect_inputs(ws, v, to_stage, now)
            evaluation = evaluate_version(ws, v, to_stage, packs, collected, now)
            decision = decide(
                version=v,
                kind=kind,
                to_stage=to_stage,
                actor=actor,
                now=now,
                evaluation=evaluation,
                collected=collected,
                holder=holder,
                demote_to=target_demote,
                log_head=head,
            )
            try:
                recorded = record_decision(ws, decision, v, holder)
            except ConflictError as exc:
                last = exc
                continue
            return replace(recorded, attempts=attempt)
    assert last is not None
    raise last


def promote(
    ws: Workspace,
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
    return _run(ws, model, version, to_stage, actor, now or datetime.now(UTC), "promote", demote_to)


def _exclusive_stage(ws: Workspace) -> str:
    if not ws.config.exclusive_stages:
        raise InputError("the workspace has no exclusive stage to roll back")
    return ws.config.exclusive_stages[0]


def rollback(
    ws: Workspace,
    model: str,
    to_version: str,
    actor: str,
    now: datetime | None = None,
    *,
    stage: str | None = None,
) -> PromotionDecision:
    """Return a version that was in production before back to production (policy checked)."""
    target = stage or _exclusive_stage(ws)
    was_there = any(
        t.version == to_version and t.to_stage == target and t.kind not in ("denied", "aborted")
        for t in ws.registry().transitions(model)
    )

    def precheck(v: ModelVersion) -> None:
        if not was_there:
            raise InputError(
                f"{v.ref} was never in {target}: rollback only returns a previous {target} "
                "version (use `ordinance promote`)"
            )

    return _run(
        ws, model, to_version, target, actor, now or datetime.now(UTC), "rollback", None, precheck
    )


def archive(
    ws: Workspace, model: str, version: str, actor: str, now: datetime | None = None
) -> PromotionDecision:
    """Move a version to the archive stage (policies apply only if configured for it)."""
    return _run(
        ws,
        model,
        version,
        _default_demote_to(ws),
        actor,
        now or datetime.now(UTC),
        "archive",
        ws.config.stages[0],
    )


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryEvent:
    """One transition (or denied attempt): who moved what, when, under which policy."""

    at: datetime
    version: str
    kind: str
    from_stage: str | None
    to_stage: str
    actor: str
    reason: str
    log_index: int | None
    details: dict[str, Any] = field(default_factory=dict)
    proof: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.details
        return {
            "at": ts(self.at),
            "version": self.version,
            "kind": self.kind,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "actor": self.actor,
            "reason": self.reason,
            "log_index": self.log_index,
            "verdict": d.get("verdict"),
            "policy": d.get("policy"),
            "approvals": d.get("approvals", []),
            "waivers": d.get("waivers", []),
            "evaluation_log_index": d.get("evaluationLogIndex"),
            "proof": self.proof,
        }


@dataclass(frozen=True)
class History:
    """A model's transitions and, for ``at``, which version held each stage then."""

    model: str
    events: tuple[HistoryEvent, ...]
    at: datetime | None = None
    stages_at: dict[str, list[str]] | None = None

    def holder(self, stage: str) -> str | None:
        """The version in ``stage`` at ``at`` (the newest if a stage holds several)."""
        if self.stages_at is None:
            raise InputError("this history was not computed for a point in time (use at=)")
        held = self.stages_at.get(stage) or []
        return held[-1] if held else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "at": None if self.at is None else ts(self.at),
            "stages_at": self.stages_at,
            "events": [e.to_dict() for e in self.events],
        }


def history(
    ws: Workspace, model: str, *, at: datetime | None = None, proofs: bool = False
) -> History:
    """Every transition of ``model`` (up to ``at``), optionally with tlog-proofs, and the
    stage of every version at ``at``."""
    registry = ws.registry()
    registry.get_model(model)
    log = ws.audit_log() if proofs else None
    events: list[HistoryEvent] = []
    for t in registry.transitions(model):
        if at is not None and t.at > at:
            continue
        proof = None
        if log is not None and t.log_index is not None:
            proof = log.prove(t.log_index)
        events.append(
            HistoryEvent(
                at=t.at,
                version=t.version,
                kind=t.kind,
                from_stage=t.from_stage,
                to_stage=t.to_stage,
                actor=t.actor,
                reason=t.reason,
                log_index=t.log_index,
                details=dict(t.details),
                proof=proof,
            )
        )
    stages_at = None
    if at is not None:
        stages_at = _stages_at(ws, model, events, at)
    return History(model, tuple(events), at, stages_at)


def _stages_at(
    ws: Workspace, model: str, events: Sequence[HistoryEvent], at: datetime
) -> dict[str, list[str]]:
    stage_of: dict[str, str] = {}
    for v in ws.registry().list_versions(model):
        if v.registered_at <= at:
            stage_of[v.version] = ws.config.initial_stage
    for e in events:
        if e.kind in ("denied", "aborted") or e.at > at:
            continue
        stage_of[e.version] = e.to_stage
    out: dict[str, list[str]] = {s: [] for s in ws.config.stages}
    for version, stage in stage_of.items():
        out.setdefault(stage, []).append(version)
    return out


def holder_at(ws: Workspace, model: str, at: datetime, stage: str | None = None) -> str | None:
    """Which version of ``model`` was in ``stage`` (default: production) at ``at``."""
    return history(ws, model, at=at).holder(stage or _exclusive_stage(ws))


# --------------------------------------------------------------------------- the demo story


Say = Callable[[str], None]


def promotion_story(
    ws: Workspace,
    model: str,
    blocked: str,
    fixed: str,
    *,
    keys_dir: Path,
    say: Say = print,
    start: datetime | None = None,
) -> list[PromotionDecision]:
    """The promotion story for ``ordinance demo`` (both versions registered beforehand).

    1. a roster of a validator and a risk officer (keys generated under ``keys_dir``);
    2. ``blocked`` → production: DENIED by policy (and no approvals);
    3. ``fixed`` approved by both, → production: PROMOTED;
    4. an emergency: ``blocked`` gets a signed, expiring waiver for its failing rules and
       two approvals, → production: PROMOTED, ``fixed`` is demoted;
    5. ``ordinance rollback`` to ``fixed``: PROMOTED again, ``blocked`` demoted;
    6. ``history --at`` answers which version was in production after each step.

    Returns the four decisions. Clocks are injected (``start`` + one hour per step).
    """
    from ordinance.approvals import Member, Roster, apply_roster, approve, waive
    from ordinance.signing import generate_key, load_signer

    t0 = start or datetime.now(UTC)
    step = timedelta(hours=1)
    keys_dir.mkdir(parents=True, exist_ok=True)
    people = {
        "vera@bank.example": "model-validator",
        "rita@bank.example": "risk-officer",
    }
    signers = {}
    for person in people:
        path = keys_dir / f"{person.split('@')[0]}.key"
        if not path.exists():
            generate_key(path, person)
        signers[person] = load_signer(path)
    roster = Roster(
        tuple(
            Member(id=p, roles=frozenset({role}), keys=(signers[p].verifier,))
            for p, role in people.items()
        )
    )
    change = apply_roster(ws, roster, actor="demo", now=t0)
    say(f"-- roster {change.digest[:12]}…: vera (model-validator), rita (risk-officer)")
    decisions: list[PromotionDecision] = []

    d1 = promote(ws, model, blocked, "production", "demo", now=t0 + step)
    decisions.append(d1)
    say(f"-- promote {model}@{blocked}: {d1.outcome.upper()}")
    for r in d1.reasons:
        say(f"     {r}")

    for person in people:
        approve(ws, model, fixed, "production", signers[person], "reviewed", now=t0 + 2 * step)
        say(f"-- {person} approved {model}@{fixed} for production (signed, logged)")
    d2 = promote(ws, model, fixed, "production", "demo", now=t0 + 3 * step)
    decisions.append(d2)
    say(f"-- promote {model}@{fixed}: {d2.outcome.upper()} (log entries {list(d2.log_indexes)})")

    failing = sorted({f.spec.id for f in (d1.evaluation.blocking if d1.evaluation else ())})
    for rule in failing:
        if rule.endswith("approval") or "approv" in rule:
            continue
        waive(
            ws,
            model,
            blocked,
            rule,
            "emergency: the incumbent scorer is needed while 1.1 is investigated",
            t0 + 3 * step + timedelta(days=7),
            signers["rita@bank.example"],
            stages=["production"],
            now=t0 + 4 * step,
        )
        say(f"-- rita signed a 7-day waiver of {rule} for {model}@{blocked}")
    for person in people:
        approve(ws, model, blocked, "production", signers[person], "emergency", now=t0 + 4 * step)
    d3 = promote(ws, model, blocked, "production", "demo", now=t0 + 5 * step)
    decisions.append(d3)
    say(
        f"-- promote {model}@{blocked} under waiver: {d3.outcome.upper()}"
        + (f"; {model}@{d3.demoted} → {d3.demote_to}" if d3.demoted else "")
    )

    d4 = rollback(ws, model, fixed, "demo", now=t0 + 6 * step)
    decisions.append(d4)
    say(
        f"-- rollback {model} to {fixed}: {d4.outcome.upper()}"
        + (f"; {model}@{d4.demoted} → {d4.demote_to}" if d4.demoted else "")
    )
    checkpoints = (
        ("before any promotion", t0 + 2 * step),
        (f"after promoting {fixed}", t0 + 3 * step),
        (f"after the emergency promotion of {blocked}", t0 + 5 * step),
        ("after the rollback", t0 + 6 * step),
    )
    for label, when in checkpoints:
        say(
            f"-- history --at {ts(when)} ({label}): production = {holder_at(ws, model, when) or 'none'}"
        )
    return decisions

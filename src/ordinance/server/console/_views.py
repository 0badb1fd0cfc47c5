"""What each console page shows, as plain data read from the workspace.

The inventory is read with a handful of set-based queries (models, versions, latest verdict
per version and stage, approvals, promotion requests), never one query per model, so a
thousand models render in well under the 300 ms budget (``benchmarks/bench_console.py``).
Everything else reuses the core: the report context for a version's facts, the promotion
pipeline (the gate) for a live verdict, the log for entries and inclusion proofs.

Nothing here renders HTML; templates only lay these values out (autoescaped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ordinance._canonical import canonical_json
from ordinance.errors import NotFoundError, OrdinanceError

if TYPE_CHECKING:
    from ordinance.approvals import Roster
    from ordinance.model import ModelVersion
    from ordinance.workspace import Workspace

__all__ = [
    "InventoryCache",
    "InventoryFacts",
    "InventoryFilter",
    "InventoryModel",
    "InventoryVersion",
    "LogProjection",
    "Requirement",
    "approval_payload",
    "assemble_inventory",
    "audit_view",
    "decline_payload",
    "history_view",
    "inbox_view",
    "index_facts",
    "inventory",
    "shown",
    "stage_requirements",
    "version_view",
    "waiver_payload",
]


def ts(t: datetime | None) -> str | None:
    """``2026-01-31T12:00:00Z`` (UTC, to the second)."""
    if t is None:
        return None
    if t.tzinfo is not None and t.utcoffset():
        t = t.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


# --------------------------------------------------------------------------- requirements


@dataclass(frozen=True)
class Requirement:
    """What approvals a stage asks for: role → count, distinct approvers, author excluded."""

    stage: str
    roles: Mapping[str, int]
    min_approvers: int
    separation_of_duties: bool

    @property
    def any(self) -> bool:
        return bool(self.roles) or self.min_approvers > 0


def stage_requirements(ws: Workspace) -> dict[str, Requirement]:
    """Per stage, the strictest ``approvals.required`` demands of the stage's packs."""
    gate = ws.gate()
    out: dict[str, Requirement] = {}
    for stage in ws.config.stages:
        roles: dict[str, int] = {}
        least = 0
        sod = False
        try:
            packs = gate.stage_policy(stage).packs
        except OrdinanceError:
            packs = ()
        for pack in packs:
            for spec in pack.rules:
                if spec.type != "approvals.required":
                    continue
                if any(s.stages is not None and stage not in s.stages for _, s in spec.scopes):
                    continue
                for role, n in dict(spec.params.get("roles") or {}).items():
                    roles[str(role)] = max(roles.get(str(role), 0), int(n))
                least = max(least, int(spec.params.get("min_approvers") or 0))
                sod = sod or bool(spec.params.get("separation_of_duties", True))
        out[stage] = Requirement(stage, roles, least, sod)
    return out


def _missing(
    req: Requirement, approvers: Iterable[str], roles_of: Mapping[str, frozenset[str]], author: str
) -> list[str]:
    """Role slots (and anonymous slots, as ``"any approver"``) no distinct approver fills."""
    people = sorted({a for a in approvers if not (req.separation_of_duties and a == author)})
    used: set[str] = set()
    missing: list[str] = []
    for role in sorted(req.roles):
        for _ in range(req.roles[role]):
            who = next((p for p in people if p not in used and role in roles_of.get(p, ())), None)
            if who is None:
                missing.append(role)
            else:
                used.add(who)
    total = max(sum(req.roles.values()), req.min_approvers)
    extra = total - sum(req.roles.values())
    free = [p for p in people if p not in used]
    missing += ["any approver"] * max(0, extra - len(free))
    return missing


# --------------------------------------------------------------------------- inventory


@dataclass
class InventoryVersion:
    model: str
    version: str
    stage: str
    author: str
    registered_at: str | None
    verdicts: dict[str, str] = field(default_factory=dict)
    last_evaluation: dict[str, Any] | None = None
    requested: str | None = None
    missing: list[str] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.requested is not None and bool(self.missing)


@dataclass
class InventoryModel:
    name: str
    owner: str
    risk_tier: str
    description: str
    tags: list[str]
    versions: list[InventoryVersion]

    @property
    def pending(self) -> int:
        return sum(1 for v in self.versions if v.pending)


@dataclass(frozen=True)
class InventoryFilter:
    q: str = ""
    stage: str = ""
    tier: str = ""
    verdict: str = ""
    pending: bool = False

    def matches(self, m: InventoryModel) -> list[InventoryVersion] | None:
        """The versions of ``m`` to show, or None when the model is filtered out."""
        if self.q:
            hay = " ".join([m.name, m.owner, m.description, *m.tags]).casefold()
            if self.q.casefold() not in hay:
                return None
        if self.tier and m.risk_tier != self.tier:
            return None
        vs = m.versions
        if self.stage:
            vs = [v for v in vs if v.stage == self.stage]
        if self.verdict:
            vs = [
                v
                for v in vs
                if (v.last_evaluation or {}).get("verdict", "not evaluated") == self.verdict
            ]
        if self.pending:
            vs = [v for v in vs if v.pending]
        if not vs and (self.stage or self.verdict or self.pending):
            return None
        return vs


def _roster_roles(roster: Roster) -> dict[str, frozenset[str]]:
    return {m.id: m.roles for m in roster.members}


@dataclass
class InventoryFacts:
    """What the inventory is assembled from, as plain tuples (row or log order):

    * ``models``: (name, owner, risk tier, description, tags), the newest registration's;
    * ``versions``: (key, model, version, stage, author, registered at), registration order;
    * ``evals``: (version key, stage, verdict, evaluated at, log index), log order;
    * ``denied``: (model, version, requested stage) of denied promotions;
    * ``revoked``: envelope digests of revoked approvals;
    * ``signed``: (model, version, stage, approver, digest, expires at as stored text).
    """

    models: list[tuple[str, str, str, str, list[str]]] = field(default_factory=list)
    versions: list[tuple[int, str, str, str, str, datetime]] = field(default_factory=list)
    evals: list[tuple[int, str, str, datetime, int | None]] = field(default_factory=list)
    denied: list[tuple[str, str, str]] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    signed: list[tuple[str, str, str, str, str, str | None]] = field(default_factory=list)


def inventory(ws: Workspace, *, now: datetime | None = None) -> list[InventoryModel]:
    """Every model and version with its stage, latest verdict per stage, the stage it was
    last checked or requested for, and the approvals that stage still awaits (read from the
    index tables as they are; :class:`InventoryCache` serves the same from the verified log)."""
    return assemble_inventory(ws, index_facts(ws), now=now)


def index_facts(ws: Workspace) -> InventoryFacts:
    """The inventory's facts from the index tables, with a handful of set-based queries."""
    from ordinance.store._approval_tables import approvals_t, revocations_t
    from ordinance.store._tables import EvaluationRow, ModelRow, TransitionRow, VersionRow

    m_t, v_t = ModelRow.__table__, VersionRow.__table__  # type: ignore[attr-defined]
    e_t, t_t = EvaluationRow.__table__, TransitionRow.__table__  # type: ignore[attr-defined]
    with ws.engine().connect() as c:
        models = c.execute(
            select(m_t.c.name, m_t.c.owner, m_t.c.risk_tier, m_t.c.description, m_t.c.tags)
        ).all()
        versions = c.execute(
            select(
                v_t.c.id,
                v_t.c.model_name,
                v_t.c.version,
                v_t.c.stage,
                v_t.c.author,
                v_t.c.registered_at,
            ).order_by(v_t.c.model_name, v_t.c.id)
        ).all()
        evals = c.execute(
            select(
                e_t.c.version_id, e_t.c.stage, e_t.c.verdict, e_t.c.evaluated_at, e_t.c.log_index
            ).order_by(e_t.c.id)
        ).all()
        denied = c.execute(
            select(t_t.c.model_name, t_t.c.version, t_t.c.to_stage).where(t_t.c.kind == "denied")
        ).all()
        revoked = {r[0] for r in c.execute(select(revocations_t.c.approval_digest)).all()}
        signed = c.execute(
            select(
                approvals_t.c.model_name,
                approvals_t.c.version,
                approvals_t.c.stage,
                approvals_t.c.approver,
                approvals_t.c.digest,
                approvals_t.c.expires_at,
            ).where(approvals_t.c.kind == "approval")
        ).all()
    return InventoryFacts(
        models=[tuple(r) for r in models],
        versions=[tuple(r) for r in versions],
        evals=[tuple(r) for r in evals],
        denied=[tuple(r) for r in denied],
        revoked=revoked,
        signed=[tuple(r) for r in signed],
    )


def assemble_inventory(
    ws: Workspace, facts: InventoryFacts, *, now: datetime | None = None
) -> list[InventoryModel]:
    """The inventory's models from its facts, the stage policies and the roster in force."""
    from ordinance.approvals import current_roster

    stages = list(ws.config.stages)
    order = {s: i for i, s in enumerate(stages)}
    exclusive = [order[s] for s in ws.config.exclusive_stages if s in order]
    top = max(exclusive) if exclusive else len(stages) - 1
    reqs = stage_requirements(ws)
    roles_of = _roster_roles(current_roster(ws))
    now_s = None if now is None else _ts_store(now)

    latest: dict[int, dict[str, tuple[str, Any, Any]]] = {}
    last_any: dict[int, tuple[str, str, Any, Any]] = {}
    for vid, stage, verdict, at, idx in facts.evals:
        latest.setdefault(vid, {})[stage] = (verdict, at, idx)
        last_any[vid] = (stage, verdict, at, idx)
    requested: dict[tuple[str, str], set[str]] = {}
    for name, version, stage in facts.denied:
        requested.setdefault((name, version), set()).add(stage)
    approvals: dict[tuple[str, str, str], list[str]] = {}
    for name, version, stage, approver, digest, expires in facts.signed:
        if digest in facts.revoked or (
            now_s is not None and expires is not None and expires <= now_s
        ):
            continue
        approvals.setdefault((name, version, stage), []).append(approver)

    by_model: dict[str, list[InventoryVersion]] = {}
    memo: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for vid, name, version, stage, author, registered in facts.versions:
        cur = order.get(stage, 0)
        wanted = set(latest.get(vid, {})) | requested.get((name, version), set())
        above = [s for s in wanted if s in order and cur < order[s] <= top]
        target = max(above, key=order.__getitem__) if above else None
        iv = InventoryVersion(
            model=name,
            version=version,
            stage=stage,
            author=author,
            registered_at=ts(registered),
            verdicts={s: v[0] for s, v in sorted(latest.get(vid, {}).items())},
        )
        if vid in last_any:
            st, verdict, at, idx = last_any[vid]
            iv.last_evaluation = {
                "stage": st,
                "verdict": verdict,
                "at": ts(at),
                "log_index": idx,
            }
        if target is not None:
            iv.requested = target
            iv.approvers = sorted(set(approvals.get((name, version, target), [])))
            req = reqs.get(target)
            if req is not None and req.any:
                key = (target, tuple(iv.approvers), author)
                if key not in memo:
                    memo[key] = _missing(req, iv.approvers, roles_of, author)
                iv.missing = list(memo[key])
        by_model.setdefault(name, []).append(iv)

    out = [
        InventoryModel(
            name=name,
            owner=owner,
            risk_tier=tier,
            description=desc or "",
            tags=list(tags or []),
            versions=by_model.get(name, []),
        )
        for name, owner, tier, desc, tags in facts.models
    ]
    out.sort(key=lambda m: m.name)
    return out


class LogProjection:
    """The inventory's facts folded from the log's entries, in log order, one entry at a time.

    Fed only entries the log proves (each included in the verified tree), so what it holds is
    what the log vouches for; appending entries extends it without reading the old ones again.
    """

    def __init__(self) -> None:
        self.size = 0
        self._models: dict[str, tuple[str, str, str, str, list[str]]] = {}
        self._versions: dict[str, list[Any]] = {}  # ref -> [key, model, version, stage, ...]
        self._evals: list[tuple[int, str, str, datetime, int | None]] = []
        self._denied: list[tuple[str, str, str]] = []
        self._revoked: set[str] = set()
        self._signed: list[tuple[str, str, str, str, str, str | None]] = []

    def apply(self, index: int, envelope: bytes, statement: Mapping[str, Any]) -> None:
        """Fold one entry (``index`` must be the next one)."""
        from ordinance import records
        from ordinance._canonical import sha256_hex
        from ordinance.errors import VerificationError
        from ordinance.ledger import NON_MOVING

        if index != self.size:
            raise VerificationError(f"log entry {index} applied at position {self.size}")
        self.size += 1
        ptype = statement.get("predicateType")
        if ptype not in _PROJECTED:
            return
        try:
            rec = records.parse_record(statement)
        except OrdinanceError as exc:
            raise VerificationError(f"log entry {index}: {exc.message}", index=index) from None
        if isinstance(rec, records.Registration):
            m = rec.model
            name = str(m.get("name") or "")
            self._models[name] = (
                name,
                str(m.get("owner") or ""),
                str(m.get("risk_tier") or ""),
                str(m.get("description") or ""),
                [str(t) for t in m.get("tags") or []],
            )
            ref = f"{name}@{rec.version}"
            if ref not in self._versions:
                key = len(self._versions)
                self._versions[ref] = [key, name, rec.version, rec.stage, rec.author]
                self._versions[ref].append(rec.registered_at)
        elif isinstance(rec, records.Evaluation):
            v = self._versions.get(rec.subject.name)
            bound = rec.extra.get("ordinanceEvaluation")
            if v is not None and isinstance(bound, Mapping):
                stage, verdict = str(bound.get("stage")), str(bound.get("verdict"))
                self._evals.append((v[0], stage, verdict, rec.time_verified, index))
        elif isinstance(rec, records.Transition):
            v = self._versions.get(rec.subject.name)
            if v is None:
                return
            if rec.kind == "denied":
                self._denied.append((v[1], v[2], rec.to_stage))
            elif rec.kind not in NON_MOVING:
                v[3] = rec.to_stage
        elif isinstance(rec, records.ApprovalStatement):
            self._signed.append(
                (
                    rec.model,
                    rec.version,
                    rec.stage,
                    rec.approver,
                    sha256_hex(envelope),
                    None if rec.expires_at is None else _ts_store(rec.expires_at),
                )
            )
        elif isinstance(rec, records.Revocation):
            self._revoked.add(rec.revokes_sha256)

    def facts(self) -> InventoryFacts:
        versions = sorted(self._versions.values(), key=lambda v: (v[1], v[0]))
        return InventoryFacts(
            models=list(self._models.values()),
            versions=[tuple(v) for v in versions],
            evals=list(self._evals),
            denied=list(self._denied),
            revoked=set(self._revoked),
            signed=list(self._signed),
        )


def _projected() -> frozenset[str]:
    from ordinance import uris

    return frozenset({uris.REGISTRATION, uris.VSA, uris.TRANSITION, uris.APPROVAL, uris.REVOCATION})


_PROJECTED = _projected()
#: Entries read per query when folding.
_FOLD_BATCH = 5000


class InventoryCache:
    """The inventory read model, built from the verified log and kept until it grows.

    Per request, one cheap step: the log's signed head is verified incrementally from the
    last trusted one (:meth:`TransparencyLog.trusted_head`: a rollback, a fork or an edited
    entry is refused, exit 1 / HTTP 500). When the head grew, only the new entries are read,
    proven part of the verified tree (their leaf hashes extend the proven frontier to the
    head's signed root) and folded into a :class:`LogProjection`; the models are then
    re-assembled, as they are when the minute changes (approval expiry).
    The index tables are not read for the inventory at all: what it shows is what the log
    vouches for. (A workspace without a log key falls back to the index tables.)
    """

    def __init__(self) -> None:
        import threading

        self._key: tuple[int, bytes, str] | None = None  # (size, root, minute)
        self._models: list[InventoryModel] = []
        self._projection = LogProjection()
        self._frontier: list[bytes] = []  # of the tree the projection was proven at
        self._log: Any = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget everything: the next request folds the whole log again."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._key = None
        self._projection = LogProjection()
        self._frontier = []
        self._log = None

    def _fold(self, ws: Workspace, size: int, root: bytes) -> None:
        """Fold entries ``projection.size .. size-1`` into the projection, proving them
        against the verified head at once: their leaf hashes extend the frontier the
        projection was proven at, which must then fold to the head's signed root (the same
        computation as the log's own incremental verification; one pass, no per-entry
        inclusion proofs). On a mismatch nothing is kept and the request fails."""
        import hashlib

        from ordinance.errors import VerificationError
        from ordinance.log import merkle
        from ordinance.log.schema import entries_t
        from ordinance.log.trusted import extend_frontier
        from ordinance.signing import Envelope

        p, start, frontier = self._projection, self._projection.size, self._frontier
        sha = hashlib.sha256
        bad: str | None = None
        with ws.engine().connect() as c:
            for lo in range(start, size, _FOLD_BATCH):
                hi = min(lo + _FOLD_BATCH, size)
                rows = c.execute(
                    select(entries_t.c.idx, entries_t.c.envelope)
                    .where(entries_t.c.idx >= lo, entries_t.c.idx < hi)
                    .order_by(entries_t.c.idx)
                ).all()
                if [int(r[0]) for r in rows] != list(range(lo, hi)):
                    self._reset()
                    raise VerificationError(f"log entries {lo}..{hi - 1} are not all stored")
                envs = [bytes(r[1]) for r in rows]
                frontier = extend_frontier(lo, frontier, (sha(b"\x00" + e).digest() for e in envs))
                for i, env in enumerate(envs, lo):
                    if bad is not None:
                        break  # keep hashing: a proof failure is the better diagnosis
                    try:
                        p.apply(i, env, json.loads(Envelope.from_bytes(env).payload))
                    except (ValueError, KeyError, TypeError, OrdinanceError) as exc:
                        bad = f"log entry {i} does not parse: {exc}"
        if merkle.fold(frontier) != root:
            self._reset()
            raise VerificationError(
                f"log entries {start}..{size - 1} do not hash to the verified checkpoint at "
                f"size {size}: edited after it was verified"
            )
        if bad is not None:
            self._reset()
            raise VerificationError(bad)
        self._frontier = frontier

    def get(self, ws: Workspace, now: datetime) -> list[InventoryModel]:
        if not ws.log_vkey_path.is_file():
            return inventory(ws, now=now)
        with self._lock:
            if self._log is None:
                from ordinance.log.store import TransparencyLog

                self._log = TransparencyLog.reader(ws.engine(), ws.vkey(), ws.config.log_origin)
            head = self._log.trusted_head()
            key = (head.size, head.root, now.strftime("%Y-%m-%dT%H:%M"))
            if key == self._key:
                return self._models
            p = self._projection
            if head.size > p.size:
                self._fold(ws, head.size, head.root)
                p = self._projection
            self._models = assemble_inventory(ws, p.facts(), now=now)
            self._key = key
            return self._models


def _ts_store(t: datetime) -> str:
    from ordinance.store._approval_tables import ts as store_ts

    return store_ts(t)


# --------------------------------------------------------------------------- inbox


def shown(rec: Any) -> dict[str, Any]:
    """A decline or waiver request as the pages show it (times to the second, UTC)."""
    d: dict[str, Any] = rec.to_dict()
    for key, value in (
        ("signed_at", getattr(rec, "signed_at", None)),
        ("expires_at", getattr(getattr(rec, "request", None), "expires_at", None)),
        ("requested_at", getattr(getattr(rec, "request", None), "requested_at", None)),
    ):
        if value is not None:
            d[key] = ts(value)
    return d


def inbox_view(
    ws: Workspace,
    identity: str,
    *,
    now: datetime | None = None,
    models: list[InventoryModel] | None = None,
) -> dict[str, Any]:
    """What awaits ``identity``: versions requested for a stage whose approvals still need
    one of the roles the roster gives them (and which they did not author or approve)."""
    from ordinance.approvals import WAIVER_ROLES, current_roster

    roster = current_roster(ws)
    member = roster.member(identity)
    roles = member.roles if member is not None else frozenset()
    awaiting: list[InventoryVersion] = []
    others: list[InventoryVersion] = []
    for m in models if models is not None else inventory(ws, now=now):
        for v in m.versions:
            if not v.pending:
                continue
            mine = roles & set(v.missing) or ("any approver" in v.missing and member is not None)
            if mine and v.author != identity and identity not in v.approvers:
                awaiting.append(v)
            else:
                others.append(v)
    from ordinance.approvals import waiver_requests

    requests = [shown(r) for r in waiver_requests(ws) if r.status == "pending"]
    return {
        "requests": requests,
        "identity": identity,
        "member": member is not None,
        "roles": sorted(roles),
        "keys": [] if member is None else sorted(k.vkey for k in member.keys),
        "can_waive": bool(roles & WAIVER_ROLES),
        "awaiting": awaiting,
        "others": others,
    }


# --------------------------------------------------------------------------- version


def _live_evaluation(ws: Workspace, v: ModelVersion, stage: str, now: datetime) -> dict[str, Any]:
    """The gate's verdict for ``stage`` now: every rule with approvals and waivers injected."""
    res = ws.gate().evaluate(v, stage, now)
    return {
        "stage": stage,
        "verdict": res.verdict,
        "passed": res.allowed,
        "rules": [] if res.evaluation is None else _evaluation_result(res.evaluation),
        "packs": [{"name": p.name, "sha256": p.sha256} for p in res.policy.packs],
        "policy": res.policy.describe(),
        "reasons": list(res.reasons) + list(res.notes),
        "rejected": [r.to_dict() for r in res.collected.rejected],
    }


def _evaluation_result(ev: Any) -> list[dict[str, Any]]:
    from ordinance.report.context import _rule_row

    data = ev.to_dict() if hasattr(ev, "to_dict") else {}
    return [_rule_row(r) for r in data.get("results") or []]


def _target_stage(ws: Workspace, v: ModelVersion, requested: str | None) -> str | None:
    stages = list(ws.config.stages)
    if requested in stages:
        return requested
    i = stages.index(v.stage) if v.stage in stages else 0
    return stages[i + 1] if i + 1 < len(stages) else None


def version_view(
    ws: Workspace,
    model: str,
    version: str,
    *,
    stage: str | None,
    now: datetime,
    models: list[InventoryModel] | None = None,
) -> dict[str, Any]:
    """A version's page: facts, latest recorded and live verdicts, fairness, lineage,
    evidence, approvals and waivers, and its log entries with verified inclusion."""
    from ordinance.report.context import build_report_context

    ctx = build_report_context(ws, model, version, verify_log=False)
    v = ws.registry().get_version(model, version)
    requested = None
    for m in models if models is not None else inventory(ws, now=now):
        if m.name == model:
            requested = next((x.requested for x in m.versions if x.version == version), None)
    target = _target_stage(ws, v, stage or requested)
    live = _live_evaluation(ws, v, target, now) if target else None
    entries = log_entries(ws, v.ref)
    from ordinance.approvals import declines_of, waiver_requests

    return {
        "declines": [shown(d) for d in declines_of(ws, model, version)],
        "waiver_requests": [shown(r) for r in waiver_requests(ws, model, version)],
        "ctx": ctx,
        "model": model,
        "version": version,
        "stage": v.stage,
        "author": v.author,
        "target": target,
        "stages": list(ws.config.stages),
        "live": live,
        "entries": entries,
        "identity_sha256": v.identity.sha256,
    }


def log_entries(ws: Workspace, ref: str) -> list[dict[str, Any]]:
    """A subject's log entries, each with its inclusion proof checked against the latest
    signed checkpoint (``included`` is what the proof says, not what the database says)."""
    from ordinance.log import TlogProof, verify_tlog_proof
    from ordinance.report.context import _entry_summary
    from ordinance.signing import parse_vkey

    if not ws.log_vkey_path.is_file():
        return []
    from ordinance.log.store import TransparencyLog

    key = parse_vkey(ws.vkey())
    log = TransparencyLog.reader(ws.engine(), key, ws.config.log_origin)
    out = []
    for e in log.entries(model=ref):
        status, size = "not included", None
        try:
            proof = TlogProof.parse(log.prove(e.index))
            cp = verify_tlog_proof(proof, e.envelope, [key], origin=ws.config.log_origin)
            status, size = "included", cp.size
        except OrdinanceError as exc:
            status = f"inclusion proof failed: {exc.message}"
        out.append(
            {
                "index": e.index,
                "logged_at": ts(e.logged_at),
                "kind": e.predicate_type.rstrip("/").rsplit("/", 2)[-2],
                "predicate_type": e.predicate_type,
                "summary": _entry_summary(e),
                "status": status,
                "checkpoint_size": size,
                "leaf_hash": e.leaf_hash.hex(),
            }
        )
    return out


# --------------------------------------------------------------------------- signing payloads


def approval_payload(
    ws: Workspace, model: str, version: str, stage: str, approver: str, now: datetime
) -> bytes:
    """The in-toto statement an approver's device signs (the same the CLI signs)."""
    from ordinance.approvals import approval_statement
    from ordinance.gate import policy_digests

    v = ws.registry().get_version(model, version)
    if stage not in ws.config.stages:
        raise NotFoundError(f"unknown stage {stage!r}")
    stmt = approval_statement(
        v, stage, approver, signed_at=now, policies=policy_digests(ws, stage, v), comment=""
    )
    return canonical_json(stmt)


def decline_payload(
    ws: Workspace, model: str, version: str, stage: str, approver: str, now: datetime
) -> bytes:
    """The decline statement an approver's device signs (the same ``ordinance decline``
    signs); the browser fills in ``reason`` and ``signedAt``."""
    from ordinance.approvals import decline_statement
    from ordinance.gate import policy_digests

    v = ws.registry().get_version(model, version)
    if stage not in ws.config.stages:
        raise NotFoundError(f"unknown stage {stage!r}")
    stmt = decline_statement(
        v, stage, approver, signed_at=now, policies=policy_digests(ws, stage, v), reason=""
    )
    return canonical_json(stmt)


def waiver_payload(
    ws: Workspace,
    model: str,
    version: str,
    rule: str,
    approver: str,
    now: datetime,
    expires_at: datetime,
    stages: Sequence[str] | None,
    request: str | None = None,
) -> bytes:
    """The waiver statement a risk officer's device signs; with ``request``, naming the
    waiver request it grants (``predicate.request.sha256``)."""
    from ordinance.approvals import waiver_statement

    v = ws.registry().get_version(model, version)
    stmt = waiver_statement(
        v,
        waiver_id=f"W-{model}-{version}-{rule}",
        rule=rule,
        justification="",
        approver=approver,
        signed_at=now,
        expires_at=expires_at,
        stages=stages,
    )
    if request is not None:
        stmt["predicate"]["request"] = {"sha256": request}
    return canonical_json(stmt)


# --------------------------------------------------------------------------- history


def history_view(ws: Workspace, model: str | None, at: datetime | None) -> dict[str, Any]:
    """Per model, every transition from the registry's log-backed index, and which
    version held each stage at ``at`` (or now)."""
    from ordinance.stage_history import history

    registry = ws.registry()
    names = [m.name for m, _ in registry.list_models()] if model is None else [model]
    models = []
    exclusive = ws.config.exclusive_stages[0] if ws.config.exclusive_stages else None
    for name in sorted(names):
        h = history(ws, name, at=at or datetime.now(UTC))
        periods = _production_periods(h.events, exclusive) if exclusive else []
        events = []
        for e in h.events:
            row = e.to_dict()
            row["at"] = ts(e.at)
            events.append(row)
        from ordinance.approvals import declines_of

        models.append(
            {
                "name": name,
                "declines": [
                    shown(d) for d in declines_of(ws, name) if at is None or d.signed_at <= at
                ],
                "events": events,
                "holder": h.holder(exclusive) if exclusive else None,
                "periods": periods,
            }
        )
    return {"models": models, "at": ts(at), "exclusive": exclusive}


def _production_periods(events: Sequence[Any], stage: str) -> list[dict[str, Any]]:
    """Intervals during which each version held ``stage``: from the log's transitions."""
    periods: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.kind in ("denied", "aborted"):
            continue
        if e.to_stage == stage:
            open_[e.version] = {
                "version": e.version,
                "from": ts(e.at),
                "until": None,
                "log_index": e.log_index,
            }
        elif e.from_stage == stage and e.version in open_:
            p = open_.pop(e.version)
            p["until"] = ts(e.at)
            periods.append(p)
    periods += list(open_.values())
    periods.sort(key=lambda p: str(p["from"]))
    return periods


# --------------------------------------------------------------------------- audit


def audit_view(ws: Workspace) -> dict[str, Any]:
    """The latest checkpoint, its witness cosignatures, and what an auditor needs."""
    from ordinance.log import Checkpoint, SignedNote

    out: dict[str, Any] = {
        "origin": ws.config.log_origin,
        "vkey": None,
        "checkpoint": None,
        "size": 0,
        "root": None,
        "cosignatures": [],
        "signatures": [],
    }
    if not ws.log_vkey_path.is_file():
        return out
    from ordinance.log.store import TransparencyLog

    out["vkey"] = ws.vkey()
    log = TransparencyLog.reader(ws.engine(), ws.vkey(), ws.config.log_origin)
    try:
        text = log.latest_checkpoint()
    except NotFoundError:
        return out
    note = SignedNote.parse(text)
    cp = Checkpoint.from_text(note.text)
    out.update(checkpoint=text, size=cp.size, root=cp.root.hex())
    log_name = ws.vkey().split("+", 1)[0]
    for s in note.signatures:
        row = {"name": s.name, "key_id": s.key_id.hex()}
        (out["signatures"] if s.name == log_name else out["cosignatures"]).append(row)
    return out


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)

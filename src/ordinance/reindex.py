"""Rebuild the index from the log, and audit the index against it.

* :func:`rebuild_index` (``ordinance index rebuild``) verifies the whole log against the
  trusted head, then, in one transaction, empties the index tables and replays every entry
  in log order: registrations, evidence, transitions, evaluations, rosters, approvals,
  waivers and revocations. The result is the index an honest writer would have produced,
  every row bound to its entry.
* :func:`check_index` (part of ``ordinance log verify``) runs every guarded read over every
  model and reports each disagreement between the index and the log (:mod:`ordinance.ledger`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from ordinance import records
from ordinance.errors import InputError, VerificationError
from ordinance.log import merkle

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = ["IndexReport", "RebuildReport", "check_index", "rebuild_index"]


@dataclass(frozen=True)
class IndexReport:
    """Disagreements between the index and the log: (message, log index or None)."""

    problems: tuple[tuple[str, int | None], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [{"message": m, "index": i} for m, i in self.problems],
        }


@dataclass(frozen=True)
class RebuildReport:
    size: int
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"log_size": self.size, "rows": dict(self.rows)}


# --------------------------------------------------------------------------- audit


def check_index(ws: Workspace) -> IndexReport:
    """Every guarded read, over every model the index or the log knows: what disagrees."""
    from ordinance.approvals import approvals_store
    from ordinance.store._approval_tables import approvals_t
    from ordinance.store._tables import ModelRow, TransitionRow, VersionRow

    if ws.ledger() is None:
        return IndexReport()
    problems: list[tuple[str, int | None]] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except VerificationError as exc:
            item = (exc.message, getattr(exc, "index", None))
            if item not in problems:
                problems.append(item)

    registry, store = ws.registry(), approvals_store(ws)
    with ws.engine().connect() as conn:
        names = {str(n) for n in conn.execute(select(ModelRow.__table__.c.name)).scalars()}  # type: ignore[attr-defined]
        names |= {str(n) for n in conn.execute(select(approvals_t.c.model_name)).scalars()}
        t = TransitionRow.__table__  # type: ignore[attr-defined]
        names |= {str(n) for n in conn.execute(select(t.c.model_name)).scalars()}
        v = VersionRow.__table__  # type: ignore[attr-defined]
        versions = [
            (str(r[0]), str(r[1])) for r in conn.execute(select(v.c.model_name, v.c.version))
        ]
    log = ws.log_reader()
    for e in log.verified_entries_about(predicate_types=(records.Registration.PREDICATE_TYPE,)):
        names.add(e.subject_name.rsplit("@", 1)[0])
    attempt(registry.list_models)
    for name in sorted(names):
        attempt(lambda n=name: registry.list_versions(n))  # type: ignore[misc]
        attempt(lambda n=name: registry.transitions(n))  # type: ignore[misc]
        attempt(lambda n=name: store.signed(n))  # type: ignore[misc]
    for model, version in versions:
        attempt(lambda m=model, x=version: registry.evaluations(m, x))  # type: ignore[misc]
    attempt(store.rosters)
    attempt(lambda: store.revocations(["0" * 64]))
    return IndexReport(tuple(problems))


# --------------------------------------------------------------------------- rebuild


def _entries(conn: Connection, size: int) -> Iterator[tuple[int, bytes, str]]:
    from ordinance.log.schema import entries_t

    last = -1
    while True:
        rows = conn.execute(
            select(entries_t.c.idx, entries_t.c.envelope, entries_t.c.logged_at)
            .where(entries_t.c.idx > last, entries_t.c.idx < size)
            .order_by(entries_t.c.idx)
            .limit(5000)
        ).all()
        for r in rows:
            yield int(r.idx), bytes(r.envelope), str(r.logged_at)
        if len(rows) < 5000:
            return
        last = int(rows[-1].idx)


def rebuild_index(ws: Workspace) -> RebuildReport:
    """Recreate every index row from the verified log (one transaction)."""
    from ordinance.store._approval_tables import approvals_t, revocations_t, roster_t
    from ordinance.store._tables import (
        EvaluationRow,
        EvidenceRow,
        ModelRow,
        TransitionRow,
        VersionRow,
    )

    log = ws.log_reader()
    head = log.trusted_head()
    tables = {
        "ordinance_evidence": EvidenceRow.__table__,  # type: ignore[attr-defined]
        "ordinance_evaluation": EvaluationRow.__table__,  # type: ignore[attr-defined]
        "ordinance_transition": TransitionRow.__table__,  # type: ignore[attr-defined]
        "ordinance_version": VersionRow.__table__,  # type: ignore[attr-defined]
        "ordinance_model": ModelRow.__table__,  # type: ignore[attr-defined]
        "ordinance_approval_revocation": revocations_t,
        "ordinance_approval": approvals_t,
        "ordinance_roster_version": roster_t,
    }
    counts = dict.fromkeys(tables, 0)
    with ws.write_transaction("index rebuild") as conn:
        # pass 1: the bytes we are about to replay are the bytes the trusted head signed
        hashes = [merkle.leaf_hash(env) for _, env, _ in _entries(conn, head.size)]
        if len(hashes) != head.size or merkle.root(hashes) != head.root:
            raise VerificationError(
                f"the log's entries do not hash to its verified head (size {head.size}): "
                "run `ordinance log verify` to find the edited entry"
            )
        for table in tables.values():
            conn.execute(delete(table))
        replay = _Replay(conn, tables, counts)
        for idx, env, _ in _entries(conn, head.size):
            replay.entry(idx, env)
        replay.finish()
    return RebuildReport(head.size, counts)


class _Replay:
    """Index rows from entries, in log order (what the honest write paths write)."""

    def __init__(self, conn: Connection, tables: dict[str, Any], counts: dict[str, int]) -> None:
        self.conn, self.t, self.counts = conn, tables, counts
        self.version_ids: dict[str, int] = {}
        self.models: set[str] = set()
        self.rosters: list[tuple[int, datetime, Any]] = []  # (index, applied_at, Roster)
        self.signed: list[dict[str, Any]] = []

    def _add(self, table: str, values: dict[str, Any]) -> Any:
        self.counts[table] += 1
        return self.conn.execute(insert(self.t[table]), values)

    def entry(self, idx: int, env: bytes) -> None:
        from ordinance.log.dsse import statement_info
        from ordinance.signing import Envelope

        try:
            envelope = Envelope.from_bytes(env)
            rec = records.parse_record(statement_info(envelope).statement)
        except InputError:
            return  # an entry Ordinance does not index (or a newer predicate)
        sha = hashlib.sha256(env).hexdigest()
        if isinstance(rec, records.Registration):
            self._registration(idx, sha, rec)
        elif isinstance(rec, records.EvidenceAdded):
            vid = self.version_ids.get(rec.subject.name)
            if vid is not None:
                for item in rec.evidence:
                    self._evidence(vid, idx, sha, item, None)
        elif isinstance(rec, records.Transition):
            self._transition(idx, sha, rec)
        elif isinstance(rec, records.Evaluation):
            self._evaluation(idx, sha, rec)
        elif isinstance(rec, records.RosterChange):
            from ordinance.approvals import Roster
            from ordinance.store._approval_tables import ts

            self._add(
                "ordinance_roster_version",
                {
                    "applied_at": ts(rec.applied_at),
                    "digest": rec.roster_sha256,
                    "document": json.dumps(dict(rec.roster), sort_keys=True),
                    "diff": json.dumps(dict(rec.diff), sort_keys=True),
                    "actor": rec.actor,
                    "log_index": idx,
                    "entry_sha256": sha,
                },
            )
            self.rosters.append((idx, rec.applied_at, Roster.from_dict(dict(rec.roster))))
        elif isinstance(rec, records.ApprovalStatement | records.WaiverStatement):
            self._signed(idx, env, envelope, sha, rec)
        elif isinstance(rec, records.Revocation):
            from ordinance.store._approval_tables import ts

            self._add(
                "ordinance_approval_revocation",
                {
                    "approval_digest": rec.revokes_sha256,
                    "revoker": rec.revoker,
                    "reason": rec.reason,
                    "revoked_at": ts(rec.revoked_at),
                    "envelope": env,
                    "log_index": idx,
                },
            )

    def _registration(self, idx: int, sha: str, rec: records.Registration) -> None:
        m = dict(rec.model)
        name = str(m.get("name"))
        facts = {
            "owner": m.get("owner") or "",
            "risk_tier": m.get("risk_tier") or "",
            "description": m.get("description") or "",
            "tags": list(m.get("tags") or []),
        }
        model_t = self.t["ordinance_model"]
        if name in self.models:
            self.conn.execute(update(model_t).where(model_t.c.name == name).values(**facts))
        else:
            self.models.add(name)
            self._add("ordinance_model", {"name": name, "created_at": rec.registered_at, **facts})
        res = self._add(
            "ordinance_version",
            {
                "model_name": name,
                "version": rec.version,
                "stage": rec.stage,
                "author": rec.author,
                "created_at": rec.created_at,
                "registered_at": rec.registered_at,
                "identity_sha256": rec.subject.sha256,
                "identity": dict(rec.identity),
                "lineage": dict(rec.lineage),
                "metrics": dict(rec.metrics),
                "documentation": dict(rec.documentation or {}),
                "manifest_sha256": rec.manifest_sha256,
                **facts,
                "log_index": idx,
                "entry_sha256": sha,
            },
        )
        vid = int(res.inserted_primary_key[0])
        self.version_ids[rec.subject.name] = vid
        for item in rec.evidence:
            self._evidence(vid, idx, sha, item, rec.registered_at)

    def _evidence(
        self,
        vid: int,
        idx: int,
        sha: str,
        item: records.EvidenceItem,
        default_time: datetime | None,
    ) -> None:
        self._add(
            "ordinance_evidence",
            {
                "version_id": vid,
                "kind": item.kind,
                "name": item.name,
                "sha256": item.sha256,
                "size": item.size,
                "media_type": item.media_type or "application/octet-stream",
                "created_at": item.created_at or default_time or datetime.fromtimestamp(0, UTC),
                "attributes": dict(item.attributes or {}),
                "description": item.description or "",
                "log_index": idx,
                "entry_sha256": sha,
            },
        )

    def _transition(self, idx: int, sha: str, rec: records.Transition) -> None:
        if rec.kind == "aborted":
            return
        model, _, version = rec.subject.name.rpartition("@")
        self._add(
            "ordinance_transition",
            {
                "model_name": model,
                "version": version,
                "from_stage": rec.from_stage,
                "to_stage": rec.to_stage,
                "actor": rec.actor,
                "at": rec.at,
                "kind": rec.kind,
                "reason": rec.reason,
                "details": dict(rec.details),
                "log_index": idx,
                "entry_sha256": sha,
            },
        )
        vid = self.version_ids.get(rec.subject.name)
        if vid is not None and rec.kind != "denied":
            version_t = self.t["ordinance_version"]
            self.conn.execute(
                update(version_t).where(version_t.c.id == vid).values(stage=rec.to_stage)
            )

    def _evaluation(self, idx: int, sha: str, rec: records.Evaluation) -> None:
        bound = rec.extra.get("ordinanceEvaluation")
        vid = self.version_ids.get(rec.subject.name)
        if not isinstance(bound, dict) or vid is None:
            return  # a VSA written before evaluations were bound to the log
        self._add(
            "ordinance_evaluation",
            {
                "version_id": vid,
                "stage": str(bound.get("stage")),
                "verdict": str(bound.get("verdict")),
                "evaluated_at": rec.time_verified,
                "policy_digests": dict(bound.get("policies") or {}),
                "result": json.loads(str(bound.get("result") or "{}")),
                "log_index": idx,
                "entry_sha256": sha,
            },
        )

    def _signed(self, idx: int, env: bytes, envelope: Any, sha: str, rec: Any) -> None:
        roster = self.rosters[-1][2] if self.rosters else None
        found = roster.signer_of(envelope) if roster is not None else None
        waiver = isinstance(rec, records.WaiverStatement)
        self.signed.append(
            {
                "kind": "waiver" if waiver else "approval",
                "digest": sha,
                "model_name": rec.model,
                "version": rec.version,
                "stage": ",".join(rec.stages or ()) if waiver else rec.stage,
                "rule": rec.rule if waiver else "",
                "approver": rec.approver,
                "key_id": found[1].key_id if found is not None else "",
                "signed_at": rec.signed_at,
                # not logged (the entry is the approver's envelope, verbatim): the signing
                # time, which is when the honest write paths record it, kept within the
                # roster the entry sits under (see finish)
                "recorded_at": rec.signed_at,
                "expires_at": rec.expires_at,
                "envelope": env,
                "log_index": idx,
            }
        )

    def finish(self) -> None:
        """Approval rows, their recorded time kept within the roster their entry sits under
        (the time is not signed, the order is; decisions look rosters up by that time)."""
        from ordinance.store._approval_tables import ts

        for row in self.signed:
            before = [r for r in self.rosters if r[0] < row["log_index"]]
            after = [r for r in self.rosters if r[0] > row["log_index"]]
            at = row["recorded_at"]
            if before and at < before[-1][1]:
                at = before[-1][1]
            if after and at >= after[0][1]:
                at = after[0][1] - timedelta(microseconds=1)
            values = dict(row)
            for key in ("signed_at", "expires_at"):
                if values[key] is not None:
                    values[key] = ts(values[key])
            values["recorded_at"] = ts(at)
            self._add("ordinance_approval", values)

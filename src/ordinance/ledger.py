"""The log is the source of truth; the index tables are a cache of it, checked on every read.

Every index row that records a fact (a version, an evidence file, a stage transition, an
evaluation, a roster, an approval or waiver, a revocation) is bound to the log entry it
indexes: ``log_index`` and the SHA-256 of that entry's envelope bytes. A :class:`Ledger`
reads, next to the rows a caller asked for, the log entries the rows must correspond to, each
proven part of the verified tree (:meth:`TransparencyLog.verified_entries_about`, with the log
verified incrementally from the last trusted head), and matches the two sets one to one:

* a row bound to no entry, or to an entry that is not of its kind and subject (an inserted
  row), is refused, naming the row;
* a row whose columns disagree with its entry's signed statement (an updated row) is refused,
  naming the row, the entry and the field;
* an entry without its row (a deleted row) is refused, naming the entry.

A refusal is an :class:`IndexMismatch` (a :class:`VerificationError`, exit 1). What the
callers get back is built from rows proven equal to the log. The cost is one query for the
rows, one for the entries and one batched node lookup for their inclusion proofs: linear in
what is read, never in the size of the log.

``ordinance index rebuild`` recreates the index from the log (:func:`rebuild_index`) and
``ordinance log verify`` checks every row (:func:`check_index`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ordinance import records, uris
from ordinance._canonical import canonical_json, sha256_hex
from ordinance.errors import InputError, VerificationError
from ordinance.model import Evidence, Identity, Lineage, Model, ModelVersion

if TYPE_CHECKING:
    from ordinance.log.entries import LogEntry
    from ordinance.log.store import TransparencyLog
    from ordinance.store._tables import EvaluationRow, EvidenceRow, TransitionRow, VersionRow

__all__ = ["IndexMismatch", "Ledger", "evaluation_binding"]

#: Transition kinds that do not move a version (only the attempt is on the record).
NON_MOVING = frozenset({"denied", "aborted"})
#: Transition kinds logged but never indexed.
UNINDEXED = frozenset({"aborted"})


class IndexMismatch(VerificationError):
    """An index row disagrees with the signed log (exit 1); names the row and the entry."""


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _result_json(result: Any) -> str:
    # a string, so that any JSON the evaluation holds (even a NaN measurement) is logged
    return json.dumps(result, sort_keys=True, separators=(",", ":"), allow_nan=True)


def evaluation_binding(
    stage: str, verdict: str, policies: Mapping[str, Any], result: Any
) -> dict[str, Any]:
    """What a VSA entry records about the evaluation row it indexes (``ordinanceEvaluation``):
    every column of the row, so the row can be checked and rebuilt from the log."""
    return {
        "stage": stage,
        "verdict": verdict,
        "policies": dict(sorted(policies.items())),
        "result": _result_json(result),
    }


@dataclass(frozen=True)
class _Entry:
    """A verified log entry and its typed record."""

    index: int
    sha256: str
    subject: str
    record: records.Record


def _entry(e: LogEntry) -> _Entry:
    try:
        rec = records.parse_record(e.statement)
    except InputError as exc:
        raise VerificationError(f"log entry {e.index}: {exc.message}", index=e.index) from None
    return _Entry(e.index, hashlib.sha256(e.envelope).hexdigest(), e.subject_name, rec)


class _Matcher:
    """One-to-one matching of rows against entries for one table."""

    def __init__(self, table: str, entries: Iterable[_Entry]) -> None:
        self.table = table
        self.entries = {e.index: e for e in entries}
        self.used: set[int] = set()

    def bind(self, row_id: Any, label: str, log_index: int | None, sha: str | None) -> _Entry:
        where = f"index row {self.table}#{row_id} ({label})"
        if log_index is None:
            raise IndexMismatch(f"{where} is bound to no log entry (unlogged row)")
        e = self.entries.get(int(log_index))
        if e is None:
            raise IndexMismatch(
                f"{where} is bound to log entry {log_index}, which does not record it",
                index=int(log_index),
            )
        if sha != e.sha256:
            raise IndexMismatch(
                f"{where} is bound to log entry {e.index} but not to its bytes (digest differs)",
                index=e.index,
            )
        return e

    def same(self, row_id: Any, label: str, e: _Entry, field: str, row: Any, log: Any) -> None:
        if row != log:
            raise IndexMismatch(
                f"index row {self.table}#{row_id} ({label}) disagrees with log entry "
                f"{e.index}: {field}",
                index=e.index,
            )

    def done(self, e: _Entry) -> None:
        self.used.add(e.index)

    def complete(self, what: Callable[[_Entry], str], wanted: Callable[[_Entry], bool]) -> None:
        """Every entry that should have a row has one (else: a deleted row)."""
        for i, e in sorted(self.entries.items()):
            if i not in self.used and wanted(e):
                raise IndexMismatch(
                    f"log entry {i} ({what(e)}) has no row in {self.table} (deleted row?)",
                    index=i,
                )


def _evidence_facts(item: records.EvidenceItem, e: EvidenceRow) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = [
        ("sha256", e.sha256, item.sha256),
        ("size", e.size, item.size),
        ("attributes", dict(e.attributes), dict(item.attributes or {})),
        ("description", e.description, item.description or ""),
    ]
    if item.media_type is not None:
        out.append(("media_type", e.media_type, item.media_type))
    if item.created_at is not None:
        out.append(("created_at", _aware(e.created_at), item.created_at))
    return out


class Ledger:
    """Authenticated reads of the index: rows proven equal to the verified log."""

    def __init__(self, log: TransparencyLog) -> None:
        self._log = log

    @property
    def log(self) -> TransparencyLog:
        return self._log

    def _about(
        self, *, subject: str | None = None, prefix: str | None = None, types: Sequence[str]
    ) -> list[_Entry]:
        got = self._log.verified_entries_about(
            subject=subject, subject_prefix=prefix, predicate_types=types
        )
        return [_entry(e) for e in got]

    # ------------------------------------------------------------------ versions

    def versions(
        self,
        model: str,
        version: str | None,
        rows: Sequence[tuple[VersionRow, Sequence[EvidenceRow]]],
    ) -> list[ModelVersion]:
        """Versions of ``model`` (one ``version``, or all) from their rows, each row and
        evidence row matched with the registration, evidence and transition entries."""
        if version is not None:
            entries = self._about(
                subject=f"{model}@{version}",
                types=(uris.REGISTRATION, uris.EVIDENCE, uris.TRANSITION),
            )
        else:
            entries = self._about(
                prefix=f"{model}@", types=(uris.REGISTRATION, uris.EVIDENCE, uris.TRANSITION)
            )
        regs = _Matcher("ordinance_version", [e for e in entries if _is(e, records.Registration)])
        evid = [e for e in entries if _is(e, records.Registration) or _is(e, records.EvidenceAdded)]
        moves = [e for e in entries if _is(e, records.Transition)]
        seen: dict[str, int] = {}
        for e in regs.entries.values():
            assert isinstance(e.record, records.Registration)
            name = f"{model}@{e.record.version}"
            if e.subject != name or e.record.model.get("name") != model:
                raise VerificationError(
                    f"log entry {e.index} registers {e.record.model.get('name')}@"
                    f"{e.record.version} under the subject {e.subject!r}",
                    index=e.index,
                )
            if name in seen:
                raise VerificationError(
                    f"log entries {seen[name]} and {e.index} both register {name}", index=e.index
                )
            seen[name] = e.index
        out: list[ModelVersion] = []
        for vrow, evrows in rows:
            label = f"{model}@{vrow.version}"
            e = regs.bind(vrow.id, label, vrow.log_index, vrow.entry_sha256)
            reg = e.record
            assert isinstance(reg, records.Registration)
            same = regs.same
            same(vrow.id, label, e, "version", vrow.version, reg.version)
            same(vrow.id, label, e, "model", vrow.model_name, reg.model.get("name"))
            same(vrow.id, label, e, "author", vrow.author, reg.author)
            same(vrow.id, label, e, "created_at", _aware(vrow.created_at), reg.created_at)
            same(vrow.id, label, e, "registered_at", _aware(vrow.registered_at), reg.registered_at)
            same(vrow.id, label, e, "identity", vrow.identity_sha256, reg.subject.sha256)
            same(vrow.id, label, e, "identity", dict(vrow.identity), dict(reg.identity))
            same(vrow.id, label, e, "lineage", dict(vrow.lineage), dict(reg.lineage))
            same(vrow.id, label, e, "metrics", dict(vrow.metrics), dict(reg.metrics))
            same(
                vrow.id,
                label,
                e,
                "documentation",
                sha256_hex(canonical_json(vrow.documentation)),
                reg.documentation_sha256,
            )
            same(vrow.id, label, e, "manifest_sha256", vrow.manifest_sha256, reg.manifest_sha256)
            if reg.documentation is not None:
                same(
                    vrow.id,
                    label,
                    e,
                    "documentation",
                    dict(vrow.documentation),
                    dict(reg.documentation),
                )
            for col, key in (
                ("owner", "owner"),
                ("risk_tier", "risk_tier"),
                ("description", "description"),
            ):
                if hasattr(vrow, col) and key in reg.model:
                    same(vrow.id, label, e, col, getattr(vrow, col), reg.model.get(key) or "")
            if hasattr(vrow, "tags") and "tags" in reg.model:
                same(vrow.id, label, e, "tags", list(vrow.tags), list(reg.model["tags"] or []))
            regs.done(e)
            stage = self._stage(reg, [m for m in moves if m.subject == label])
            same(vrow.id, label, e, "stage", vrow.stage, stage)
            evidence = self._evidence(label, evrows, [x for x in evid if x.subject == label])
            try:
                out.append(
                    ModelVersion(
                        model=Model.model_validate(dict(reg.model)),
                        version=reg.version,
                        stage=stage,
                        author=reg.author,
                        created_at=reg.created_at,
                        registered_at=reg.registered_at,
                        identity=Identity.model_validate(dict(reg.identity)),
                        lineage=Lineage.model_validate(dict(reg.lineage)),
                        metrics=dict(reg.metrics),
                        documentation=dict(vrow.documentation),
                        evidence=evidence,
                        manifest_sha256=reg.manifest_sha256,
                    )
                )
            except ValueError as exc:
                raise VerificationError(
                    f"log entry {e.index}: the registered facts do not parse: {exc}",
                    index=e.index,
                ) from None
        regs.complete(lambda e: f"registration of {e.subject}", lambda e: True)
        return out

    @staticmethod
    def _stage(reg: records.Registration, moves: Sequence[_Entry]) -> str:
        stage = reg.stage
        for m in moves:
            t = m.record
            assert isinstance(t, records.Transition)
            if t.kind not in NON_MOVING:
                stage = t.to_stage
        return stage

    def _evidence(
        self, label: str, rows: Sequence[EvidenceRow], entries: Sequence[_Entry]
    ) -> tuple[Evidence, ...]:
        m = _Matcher("ordinance_evidence", entries)
        expected: dict[tuple[int, str, str], records.EvidenceItem] = {}
        for e in entries:
            rec = e.record
            assert isinstance(rec, records.Registration | records.EvidenceAdded)
            for logged in rec.evidence:
                expected[(e.index, logged.kind, logged.name)] = logged
        found: set[tuple[int, str, str]] = set()
        out = []
        for r in rows:
            e = m.bind(r.id, f"{label} {r.kind}/{r.name}", r.log_index, r.entry_sha256)
            key = (e.index, r.kind, r.name)
            item = expected.get(key)
            if item is None or key in found:
                raise IndexMismatch(
                    f"index row ordinance_evidence#{r.id} ({label} {r.kind}/{r.name}) is not "
                    f"recorded by log entry {e.index}",
                    index=e.index,
                )
            found.add(key)
            for field, row_value, log_value in _evidence_facts(item, r):
                m.same(r.id, f"{label} {r.kind}/{r.name}", e, field, row_value, log_value)
            out.append(
                Evidence(
                    kind=item.kind,
                    name=item.name,
                    sha256=item.sha256,
                    size=item.size,
                    media_type=item.media_type or r.media_type,
                    created_at=item.created_at or _aware(r.created_at),
                    attributes=dict(item.attributes or {}),
                    description=item.description or "",
                )
            )
        for key in sorted(set(expected) - found):
            raise IndexMismatch(
                f"log entry {key[0]} records evidence {key[1]}/{key[2]} of {label} but "
                "ordinance_evidence has no row for it (deleted row?)",
                index=key[0],
            )
        return tuple(out)

    def model_names(self, names: Sequence[str]) -> None:
        """The index's model names are exactly those the log registered."""
        logged: dict[str, int] = {}
        for e in self._about(types=(uris.REGISTRATION,)):
            assert isinstance(e.record, records.Registration)
            logged.setdefault(str(e.record.model.get("name")), e.index)
        for n in names:
            if n not in logged:
                raise IndexMismatch(f"index row ordinance_model#{n} has no registration in the log")
        for n, i in sorted(logged.items(), key=lambda x: x[1]):
            if n not in names:
                raise IndexMismatch(
                    f"log entry {i} registers model {n!r} but ordinance_model has no row for it "
                    "(deleted row?)",
                    index=i,
                )

    # ------------------------------------------------------------------ transitions

    def transitions(self, model: str | None, rows: Sequence[TransitionRow]) -> None:
        """Check a model's (or every) transition rows against the transition entries."""
        entries = self._about(
            prefix=f"{model}@" if model is not None else None, types=(uris.TRANSITION,)
        )
        m = _Matcher("ordinance_transition", entries)
        for r in rows:
            label = f"{r.model_name}@{r.version} {r.kind}"
            e = m.bind(r.id, label, r.log_index, r.entry_sha256)
            t = e.record
            assert isinstance(t, records.Transition)
            m.same(r.id, label, e, "version", f"{r.model_name}@{r.version}", e.subject)
            m.same(r.id, label, e, "kind", r.kind, t.kind)
            m.same(r.id, label, e, "from_stage", r.from_stage, t.from_stage)
            m.same(r.id, label, e, "to_stage", r.to_stage, t.to_stage)
            m.same(r.id, label, e, "actor", r.actor, t.actor)
            m.same(r.id, label, e, "at", _aware(r.at), t.at)
            m.same(r.id, label, e, "reason", r.reason, t.reason)
            m.same(r.id, label, e, "details", _json(r.details), _json(t.details))
            m.done(e)
        m.complete(
            lambda e: f"transition of {e.subject}",
            lambda e: isinstance(e.record, records.Transition) and e.record.kind not in UNINDEXED,
        )

    # ------------------------------------------------------------------ evaluations

    def evaluations(self, model: str, version: str, rows: Sequence[EvaluationRow]) -> None:
        entries = self._about(subject=f"{model}@{version}", types=(uris.VSA,))
        m = _Matcher("ordinance_evaluation", entries)
        for r in rows:
            label = f"{model}@{version} {r.stage}"
            e = m.bind(r.id, label, r.log_index, r.entry_sha256)
            vsa = e.record
            assert isinstance(vsa, records.Evaluation)
            bound = vsa.extra.get("ordinanceEvaluation")
            want = evaluation_binding(r.stage, r.verdict, r.policy_digests, r.result)
            m.same(r.id, label, e, "stage, verdict, policies or result", want, bound)
            m.same(r.id, label, e, "evaluated_at", _aware(r.evaluated_at), vsa.time_verified)
            m.done(e)
        m.complete(lambda e: f"evaluation of {e.subject}", lambda e: True)

    # ------------------------------------------------------------------ approvals

    def rosters(self, rows: Sequence[Any]) -> None:
        """Check every roster-history row against every roster-change entry."""
        from ordinance.store._approval_tables import ts

        entries = self._about(subject=records.ROSTER_SUBJECT, types=(uris.ROSTER_CHANGE,))
        m = _Matcher("ordinance_roster_version", entries)
        for r in rows:
            label = f"roster {r.digest[:12]}"
            e = m.bind(r.id, label, r.log_index, r.entry_sha256)
            rc = e.record
            assert isinstance(rc, records.RosterChange)
            m.same(r.id, label, e, "digest", r.digest, rc.roster_sha256)
            m.same(r.id, label, e, "document", _json(r.document), _json(rc.roster))
            m.same(r.id, label, e, "diff", _json(r.diff), _json(rc.diff))
            m.same(r.id, label, e, "actor", r.actor, rc.actor)
            m.same(r.id, label, e, "applied_at", ts(r.applied_at), ts(rc.applied_at))
            m.done(e)
        m.complete(lambda e: "roster change", lambda e: True)

    def signed(self, model: str, version: str | None, rows: Sequence[Any]) -> None:
        """Check approval and waiver rows of a model (or one version) against the log."""
        from ordinance.store._approval_tables import ts

        types = (uris.APPROVAL, uris.WAIVER)
        if version is not None:
            entries = self._about(subject=f"{model}@{version}", types=types)
        else:
            entries = self._about(prefix=f"{model}@", types=types)
        m = _Matcher("ordinance_approval", entries)
        rosters = self._about(subject=records.ROSTER_SUBJECT, types=(uris.ROSTER_CHANGE,))
        for r in rows:
            label = f"{r.kind} {r.digest[:12]} of {r.model}@{r.version}"
            e = m.bind(r.id, label, r.log_index, r.digest)
            m.same(r.id, label, e, "envelope", sha256_hex(r.envelope), e.sha256)
            m.same(r.id, label, e, "subject", f"{r.model}@{r.version}", e.subject)
            rec = e.record
            if isinstance(rec, records.ApprovalStatement):
                m.same(r.id, label, e, "kind", r.kind, "approval")
                m.same(r.id, label, e, "stage", r.stage, rec.stage)
                m.same(r.id, label, e, "rule", r.rule, "")
            elif isinstance(rec, records.WaiverStatement):
                m.same(r.id, label, e, "kind", r.kind, "waiver")
                m.same(r.id, label, e, "stage", r.stage, ",".join(rec.stages or ()))
                m.same(r.id, label, e, "rule", r.rule, rec.rule)
            m.same(r.id, label, e, "model", (r.model, r.version), (rec.model, rec.version))  # type: ignore[attr-defined]
            m.same(r.id, label, e, "approver", r.approver, rec.approver)  # type: ignore[attr-defined]
            m.same(r.id, label, e, "signed_at", ts(r.signed_at), ts(rec.signed_at))  # type: ignore[attr-defined]
            exp = rec.expires_at  # type: ignore[attr-defined]
            m.same(
                r.id,
                label,
                e,
                "expires_at",
                None if r.expires_at is None else ts(r.expires_at),
                None if exp is None else ts(exp),
            )
            # the roster a decision looks up by the row's recorded time must be the one in
            # force where the entry sits in the log (the time is not signed; the order is)
            m.same(
                r.id,
                label,
                e,
                "recorded_at (not where the entry sits in the log)",
                _roster_by_time(rosters, r.recorded_at),
                _roster_by_position(rosters, e.index),
            )
            m.done(e)
        m.complete(lambda e: f"{_kind(e)} of {e.subject}", lambda e: True)

    def revocations(self, rows: Sequence[Any]) -> None:
        """Check every revocation row against every revocation entry."""
        from ordinance.store._approval_tables import ts

        entries = self._about(types=(uris.REVOCATION,))
        m = _Matcher("ordinance_approval_revocation", entries)
        for r in rows:
            label = f"revocation of {r.approval_digest[:12]}"
            e = m.bind(r.id, label, r.log_index, sha256_hex(r.envelope))
            rev = e.record
            assert isinstance(rev, records.Revocation)
            m.same(r.id, label, e, "approval_digest", r.approval_digest, rev.revokes_sha256)
            m.same(r.id, label, e, "revoker", r.revoker, rev.revoker)
            m.same(r.id, label, e, "reason", r.reason, rev.reason)
            m.same(r.id, label, e, "revoked_at", ts(r.revoked_at), ts(rev.revoked_at))
            m.done(e)
        m.complete(lambda e: f"revocation about {e.subject}", lambda e: True)


def _is(e: _Entry, cls: type[records.Record]) -> bool:
    return isinstance(e.record, cls)


def _kind(e: _Entry) -> str:
    return "waiver" if isinstance(e.record, records.WaiverStatement) else "approval"


def _json(value: Any) -> bytes:
    return canonical_json(value)


def _roster_by_time(rosters: Sequence[_Entry], at: datetime) -> int | None:
    found = None
    for e in rosters:
        rc = e.record
        assert isinstance(rc, records.RosterChange)
        if rc.applied_at <= at:
            found = e.index
    return found


def _roster_by_position(rosters: Sequence[_Entry], index: int) -> int | None:
    found = None
    for e in rosters:
        if e.index < index:
            found = e.index
    return found

"""Typed signed records: one frozen value class per predicate Ordinance writes to the log.

Every log entry is an in-toto Statement v1; its ``predicateType`` (from :mod:`ordinance.uris`,
the one place URIs are defined) says which class below reads it::

    Record                          (base: subject, unknown predicate fields kept in ``extra``)
     ├── Registration               a version was registered
     ├── EvidenceAdded              evidence attached after registration
     ├── Evaluation                 a policy evaluation (SLSA Verification Summary Attestation)
     ├── StageSignoff               (base: an approver's signed word on a version for a stage)
     │    ├── ApprovalStatement     a signed approval of a version for a stage
     │    └── DeclineStatement      an approver's signed refusal of a version for a stage
     ├── ApprovalRefusal            a refused approval/waiver submission (signed by the log key)
     ├── WaiverStatement            a signed waiver of one rule for one version
     ├── WaiverRequest              someone asked for a waiver (log-key signed; not a waiver)
     ├── WaiverRequestDeclined      a waiver request was declined, with a reason (log-key signed)
     ├── Revocation                 a signed revocation of an approval or waiver
     ├── RosterChange               the roster in force changed
     ├── KeyChange                  the log key was rotated
     └── Transition                 a stage transition (or a denied/aborted attempt)

``to_statement()`` builds the exact statement that is signed; ``from_statement()`` reads one
back (:func:`parse_record` dispatches on the predicate type). Reading never re-serializes for
verification: signatures are checked over the stored bytes. Unknown predicate fields are kept
in ``extra`` so entries written by newer versions still read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from ordinance import uris
from ordinance._canonical import canonical_json, sha256_hex
from ordinance.errors import InputError
from ordinance.model import ModelVersion

__all__ = [
    "ROSTER_SUBJECT",
    "ApprovalRefusal",
    "ApprovalStatement",
    "DeclineStatement",
    "Evaluation",
    "EvidenceAdded",
    "EvidenceItem",
    "KeyChange",
    "Record",
    "Registration",
    "Revocation",
    "RosterChange",
    "StageSignoff",
    "Subject",
    "Transition",
    "WaiverRequest",
    "WaiverRequestDeclined",
    "WaiverStatement",
    "iso_time",
    "parse_record",
    "resource_uri",
    "stamp",
]

#: The subject name of roster-change entries (a roster is not a model version).
ROSTER_SUBJECT = "ordinance:roster"


# --------------------------------------------------------------------------- time formats


def iso_time(t: datetime) -> str:
    """ISO 8601 with ``Z`` (registrations, transitions, evaluations)."""
    return t.isoformat().replace("+00:00", "Z")


def stamp(dt: datetime) -> str:
    """Fixed-width UTC text (approvals, waivers, revocations, rosters, refusals)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stamp_or_none(dt: datetime | None) -> str | None:
    return None if dt is None else stamp(dt)


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(f"{what} is missing or not a string")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{what} is not an ISO 8601 time: {value!r}") from None
    if t.tzinfo is None:
        raise InputError(f"{what} has no timezone")
    return t.astimezone(UTC)


def _opt_time(value: Any, what: str) -> datetime | None:
    return None if value is None else _parse_time(value, what)


def _str(p: Mapping[str, Any], key: str, default: str | None = None) -> str:
    v = p.get(key, default)
    if not isinstance(v, str):
        raise InputError(f"predicate field {key!r} is missing or not a string")
    return v


def _dict(p: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = p.get(key)
    if not isinstance(v, dict):
        raise InputError(f"predicate field {key!r} is missing or not an object")
    return dict(v)


def _sha(p: Mapping[str, Any], key: str) -> str:
    d = p.get(key)
    if not isinstance(d, dict) or not isinstance(d.get("sha256"), str):
        raise InputError(f"predicate field {key!r} needs a sha256 digest")
    return str(d["sha256"])


# --------------------------------------------------------------------------- the base


class Predicate(Mapping[str, Any]):
    """A predicate being read: remembers the fields a record reads, so that the others are
    kept in ``extra`` (no record lists its field names twice)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self._read.add(key)
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._read.add(key)
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        self._read.add(key)
        return self._data.get(key, default)

    def legacy(self, key: str) -> Any:
        """A fallback read of an older field name, which stays in ``extra``."""
        return self._data.get(key)

    def unread(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k not in self._read}


@dataclass(frozen=True)
class Subject:
    """The first subject of a statement: ``model@version`` and its identity digest."""

    name: str
    sha256: str

    @classmethod
    def of(cls, version: ModelVersion) -> Subject:
        return cls(version.ref, version.identity.sha256)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest": {"sha256": self.sha256}}


def resource_uri(version: ModelVersion) -> str:
    return f"models:/{version.model.name}/{version.version}"


@dataclass(frozen=True, kw_only=True)
class Record:
    """What every record has: the predicate type, its subject and unknown predicate fields."""

    PREDICATE_TYPE: ClassVar[str] = ""

    subject: Subject
    extra: Mapping[str, Any] = field(default_factory=dict)

    def predicate(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def to_statement(self) -> dict[str, Any]:
        """The in-toto Statement v1 (unknown fields read from a newer entry are kept)."""
        return {
            "_type": uris.STATEMENT_TYPE,
            "subject": [self.subject.to_dict()],
            "predicateType": self.PREDICATE_TYPE,
            "predicate": {**self.predicate(), **dict(self.extra)},
        }

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical statement."""
        return sha256_hex(canonical_json(self.to_statement()))

    @classmethod
    def from_statement(cls, stmt: Mapping[str, Any]) -> Self:
        """Read a statement of this record's predicate type; a clear error otherwise."""
        if stmt.get("_type") != uris.STATEMENT_TYPE:
            raise InputError(f"not an in-toto statement (_type must be {uris.STATEMENT_TYPE})")
        if stmt.get("predicateType") != cls.PREDICATE_TYPE:
            raise InputError(
                f"predicate type {stmt.get('predicateType')!r} is not {cls.PREDICATE_TYPE}"
            )
        subjects = stmt.get("subject")
        if not isinstance(subjects, list) or not subjects or not isinstance(subjects[0], dict):
            raise InputError("the statement has no subject")
        first = subjects[0]
        d = first.get("digest")
        digest: dict[str, Any] = d if isinstance(d, dict) else {}
        subject = Subject(str(first.get("name") or ""), str(digest.get("sha256") or ""))
        pred = stmt.get("predicate")
        if not isinstance(pred, dict):
            raise InputError("the statement has no predicate")
        fields = Predicate(pred)
        record = cls._read(subject, fields)
        # what the record did not read is kept, so that a newer entry re-serializes whole
        extra = fields.unread()
        return replace(record, extra=extra) if extra else record

    @classmethod
    def _read(
        cls, subject: Subject, p: Predicate
    ) -> Self:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


# --------------------------------------------------------------------------- registry facts


@dataclass(frozen=True)
class EvidenceItem:
    """One evidence file as logged. The optional facts (media type, creation time,
    attributes, description) are logged by newer versions so every fact of an evidence row
    comes from the log; ``None`` means an older entry that did not record it."""

    kind: str
    name: str
    sha256: str
    size: int
    media_type: str | None = None
    created_at: datetime | None = None
    attributes: Mapping[str, Any] | None = None
    description: str | None = None

    @classmethod
    def of(cls, e: Any) -> EvidenceItem:
        """From a :class:`ordinance.model.Evidence`, with every fact."""
        return cls(
            e.kind,
            e.name,
            e.sha256,
            e.size,
            media_type=e.media_type,
            created_at=e.created_at,
            attributes=dict(e.attributes),
            description=e.description,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "digest": {"sha256": self.sha256},
            "size": self.size,
        }
        if self.media_type is not None:
            out["mediaType"] = self.media_type
        if self.created_at is not None:
            out["createdAt"] = iso_time(self.created_at)
        if self.attributes is not None:
            out["attributes"] = dict(self.attributes)
        if self.description is not None:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvidenceItem:
        attrs = d.get("attributes")
        return cls(
            kind=_str(d, "kind"),
            name=_str(d, "name"),
            sha256=_sha(d, "digest"),
            size=int(d.get("size") or 0),
            media_type=None if d.get("mediaType") is None else str(d["mediaType"]),
            created_at=_opt_time(d.get("createdAt"), "createdAt"),
            attributes=dict(attrs) if isinstance(attrs, dict) else None,
            description=None if d.get("description") is None else str(d["description"]),
        )


@dataclass(frozen=True, kw_only=True)
class Registration(Record):
    """A version was registered: its facts, evidence digests and model-signing digest."""

    PREDICATE_TYPE: ClassVar[str] = uris.REGISTRATION

    model: Mapping[str, Any]
    version: str
    stage: str
    author: str
    created_at: datetime
    registered_at: datetime
    identity: Mapping[str, Any]
    model_signing_statement_sha256: str
    manifest_sha256: str
    lineage: Mapping[str, Any]
    metrics: Mapping[str, Any]
    documentation_sha256: str
    evidence: tuple[EvidenceItem, ...] = ()
    #: the documentation itself (newer entries), so the index can be rebuilt from the log
    documentation: Mapping[str, str] | None = None

    @classmethod
    def of(cls, version: ModelVersion, model_signing_statement: Mapping[str, Any]) -> Registration:
        return cls(
            subject=Subject.of(version),
            model=version.model.model_dump(mode="json"),
            version=version.version,
            stage=version.stage,
            author=version.author,
            created_at=version.created_at,
            registered_at=version.registered_at,
            identity=version.identity.model_dump(mode="json"),
            model_signing_statement_sha256=sha256_hex(
                canonical_json(dict(model_signing_statement))
            ),
            manifest_sha256=version.manifest_sha256,
            lineage=version.lineage.model_dump(mode="json"),
            metrics=dict(version.metrics),
            documentation_sha256=sha256_hex(canonical_json(version.documentation)),
            evidence=tuple(EvidenceItem.of(e) for e in version.evidence),
            documentation=dict(version.documentation),
        )

    def predicate(self) -> dict[str, Any]:
        return {
            "model": dict(self.model),
            "version": self.version,
            "stage": self.stage,
            "author": self.author,
            "createdAt": iso_time(self.created_at),
            "registeredAt": iso_time(self.registered_at),
            "identity": dict(self.identity),
            "modelSigningStatementDigest": {"sha256": self.model_signing_statement_sha256},
            "manifest": {"sha256": self.manifest_sha256},
            "lineage": dict(self.lineage),
            "metrics": dict(self.metrics),
            "documentation": {"sha256": self.documentation_sha256},
            "evidence": [e.to_dict() for e in self.evidence],
            **(
                {"documentationFields": dict(self.documentation)}
                if self.documentation is not None
                else {}
            ),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        return cls(
            subject=subject,
            model=_dict(p, "model"),
            version=_str(p, "version"),
            stage=_str(p, "stage"),
            author=_str(p, "author", ""),
            created_at=_parse_time(p.get("createdAt"), "createdAt"),
            registered_at=_parse_time(p.get("registeredAt"), "registeredAt"),
            identity=_dict(p, "identity"),
            model_signing_statement_sha256=_sha(p, "modelSigningStatementDigest"),
            manifest_sha256=_sha(p, "manifest"),
            lineage=dict(p.get("lineage") or {}),
            metrics=dict(p.get("metrics") or {}),
            documentation_sha256=_sha(p, "documentation"),
            evidence=tuple(EvidenceItem.from_dict(e) for e in p.get("evidence") or []),
            documentation=(
                {str(k): str(v) for k, v in p["documentationFields"].items()}
                if isinstance(p.get("documentationFields"), dict)
                else None
            ),
        )


@dataclass(frozen=True, kw_only=True)
class EvidenceAdded(Record):
    """Evidence attached to a version after its registration."""

    PREDICATE_TYPE: ClassVar[str] = uris.EVIDENCE

    version: str
    actor: str
    evidence: tuple[EvidenceItem, ...]

    @classmethod
    def of(cls, version: ModelVersion, items: tuple[EvidenceItem, ...], actor: str) -> Self:
        return cls(
            subject=Subject.of(version), version=version.version, actor=actor, evidence=items
        )

    def predicate(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "actor": self.actor,
            "evidence": [e.to_dict() for e in self.evidence],
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        return cls(
            subject=subject,
            version=_str(p, "version"),
            actor=_str(p, "actor", ""),
            evidence=tuple(EvidenceItem.from_dict(e) for e in p.get("evidence") or []),
        )


@dataclass(frozen=True, kw_only=True)
class Evaluation(Record):
    """A policy evaluation as a SLSA ``verification_summary/v1`` predicate."""

    PREDICATE_TYPE: ClassVar[str] = uris.VSA

    verifier: Mapping[str, Any]
    time_verified: datetime
    resource_uri: str
    policy_uri: str
    policy_sha256: str
    input_attestations: tuple[Mapping[str, Any], ...]
    verification_result: str  # PASSED | FAILED
    verified_levels: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.verification_result == "PASSED"

    @classmethod
    def of(cls, evaluation: Any) -> Evaluation:
        """From a :class:`ordinance.policy.Evaluation` (its VSA predicate)."""
        version: ModelVersion = evaluation.version
        pred = evaluation.to_vsa_predicate(uris.VERIFIER_ID, resource_uri(version))
        return cls.from_statement(
            {
                "_type": uris.STATEMENT_TYPE,
                "subject": [Subject.of(version).to_dict()],
                "predicateType": uris.VSA,
                "predicate": pred,
            }
        )

    def predicate(self) -> dict[str, Any]:
        return {
            "verifier": dict(self.verifier),
            "timeVerified": iso_time(self.time_verified),
            "resourceUri": self.resource_uri,
            "policy": {"uri": self.policy_uri, "digest": {"sha256": self.policy_sha256}},
            "inputAttestations": [dict(i) for i in self.input_attestations],
            "verificationResult": self.verification_result,
            "verifiedLevels": list(self.verified_levels),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        policy = _dict(p, "policy")
        return cls(
            subject=subject,
            verifier=_dict(p, "verifier"),
            time_verified=_parse_time(p.get("timeVerified"), "timeVerified"),
            resource_uri=_str(p, "resourceUri"),
            policy_uri=_str(policy, "uri"),
            policy_sha256=_sha(policy, "digest"),
            input_attestations=tuple(dict(i) for i in p.get("inputAttestations") or []),
            verification_result=_str(p, "verificationResult"),
            verified_levels=tuple(str(x) for x in p.get("verifiedLevels") or []),
        )


# --------------------------------------------------------------------------- signed decisions


@dataclass(frozen=True, kw_only=True)
class StageSignoff(Record):
    """What an approver signs about a version entering a stage (an approval or a decline):
    bound to the identity, version, stage and the policy digests in force."""

    approver: str
    model: str
    version: str
    stage: str
    identity_sha256: str
    policies: Mapping[str, str]  # pack name -> sha256
    signed_at: datetime

    @staticmethod
    def _facts_of(
        version: ModelVersion,
        stage: str,
        approver: str,
        signed_at: datetime,
        policies: Mapping[str, str],
    ) -> dict[str, Any]:
        return {
            "subject": Subject.of(version),
            "approver": approver,
            "model": version.model.name,
            "version": version.version,
            "stage": stage,
            "identity_sha256": version.identity.sha256,
            "policies": dict(policies),
            "signed_at": signed_at,
        }

    def _signoff(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "identity": {"sha256": self.identity_sha256},
            "policies": {k: {"sha256": v} for k, v in sorted(self.policies.items())},
            "signedAt": stamp(self.signed_at),
        }

    @staticmethod
    def _read_signoff(subject: Subject, p: Predicate, identity: str) -> dict[str, Any]:
        pol = p.get("policies") or {}
        return {
            "subject": subject,
            "approver": _str(p, "approver"),
            "model": _str(p, "model"),
            "version": _str(p, "version"),
            "stage": _str(p, "stage"),
            "identity_sha256": identity,
            "policies": {
                str(k): str((v or {}).get("sha256", "")) if isinstance(v, dict) else str(v)
                for k, v in (pol.items() if isinstance(pol, dict) else ())
            },
            "signed_at": _parse_time(p.get("signedAt"), "signedAt"),
        }


@dataclass(frozen=True, kw_only=True)
class ApprovalStatement(StageSignoff):
    """What an approver signs to approve: a sign-off, optionally expiring, with a comment."""

    PREDICATE_TYPE: ClassVar[str] = uris.APPROVAL

    expires_at: datetime | None = None
    comment: str = ""

    @classmethod
    def of(
        cls,
        version: ModelVersion,
        stage: str,
        approver: str,
        *,
        signed_at: datetime,
        policies: Mapping[str, str],
        expires_at: datetime | None = None,
        comment: str = "",
    ) -> ApprovalStatement:
        facts = cls._facts_of(version, stage, approver, signed_at, policies)
        return cls(**facts, expires_at=expires_at, comment=comment)

    def predicate(self) -> dict[str, Any]:
        return {
            **self._signoff(),
            "expiresAt": _stamp_or_none(self.expires_at),
            "comment": self.comment,
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        identity = _sha(p, "identity") if "identity" in p else subject.sha256
        return cls(
            **cls._read_signoff(subject, p, identity),
            expires_at=_opt_time(p.get("expiresAt", p.legacy("expires")), "expiresAt"),
            comment=str(p.get("comment") or ""),
        )


@dataclass(frozen=True, kw_only=True)
class WaiverStatement(Record):
    """A signed waiver of one rule for exactly one version (optionally some stages)."""

    PREDICATE_TYPE: ClassVar[str] = uris.WAIVER

    id: str
    rule: str
    model: str
    version: str
    stages: tuple[str, ...] | None
    justification: str
    approver: str
    signed_at: datetime
    expires_at: datetime

    @classmethod
    def of(
        cls,
        version: ModelVersion,
        *,
        waiver_id: str,
        rule: str,
        justification: str,
        approver: str,
        signed_at: datetime,
        expires_at: datetime,
        stages: tuple[str, ...] | None = None,
    ) -> WaiverStatement:
        return cls(
            subject=Subject.of(version),
            id=waiver_id,
            rule=rule,
            model=version.model.name,
            version=version.version,
            stages=None if stages is None else tuple(sorted(stages)),
            justification=justification,
            approver=approver,
            signed_at=signed_at,
            expires_at=expires_at,
        )

    def predicate(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "model": self.model,
            "version": self.version,
            "stages": None if self.stages is None else list(self.stages),
            "justification": self.justification,
            "approver": self.approver,
            "signedAt": stamp(self.signed_at),
            "expiresAt": stamp(self.expires_at),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        stages = p.get("stages")
        expires = _opt_time(p.get("expiresAt", p.legacy("expires")), "expiresAt")
        if expires is None:
            raise InputError("a waiver must expire (expiresAt is missing)")
        return cls(
            subject=subject,
            id=_str(p, "id"),
            rule=_str(p, "rule"),
            model=_str(p, "model"),
            version=_str(p, "version"),
            stages=None if not stages else tuple(str(s) for s in stages),
            justification=_str(p, "justification", ""),
            approver=_str(p, "approver"),
            signed_at=_parse_time(p.get("signedAt"), "signedAt"),
            expires_at=expires,
        )


@dataclass(frozen=True, kw_only=True)
class WaiverRequest(Record):
    """A request for a waiver of one rule for one version: who asked, why, until when.

    The server's record (signed by the log key) of what a logged-in user asked for. It is not
    a waiver and nothing counts it; a waiver-role holder grants it by signing a waiver (which
    names the request by its envelope digest) or declines it (:class:`WaiverRequestDeclined`).
    """

    PREDICATE_TYPE: ClassVar[str] = uris.WAIVER_REQUEST

    requester: str
    model: str
    version: str
    rule: str
    stages: tuple[str, ...] | None
    justification: str
    expires_at: datetime
    requested_at: datetime

    def predicate(self) -> dict[str, Any]:
        return {
            "requester": self.requester,
            "model": self.model,
            "version": self.version,
            "rule": self.rule,
            "stages": None if self.stages is None else list(self.stages),
            "justification": self.justification,
            "expiresAt": stamp(self.expires_at),
            "requestedAt": stamp(self.requested_at),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        stages = p.get("stages")
        return cls(
            subject=subject,
            requester=_str(p, "requester"),
            model=_str(p, "model"),
            version=_str(p, "version"),
            rule=_str(p, "rule"),
            stages=None if not stages else tuple(str(s) for s in stages),
            justification=_str(p, "justification"),
            expires_at=_parse_time(p.get("expiresAt"), "expiresAt"),
            requested_at=_parse_time(p.get("requestedAt"), "requestedAt"),
        )


@dataclass(frozen=True, kw_only=True)
class WaiverRequestDeclined(Record):
    """A waiver-role holder declined a waiver request (named by its envelope digest)."""

    PREDICATE_TYPE: ClassVar[str] = uris.WAIVER_REQUEST_DECLINED

    request_sha256: str
    reviewer: str
    reason: str
    declined_at: datetime

    def predicate(self) -> dict[str, Any]:
        return {
            "request": {"sha256": self.request_sha256},
            "reviewer": self.reviewer,
            "reason": self.reason,
            "declinedAt": stamp(self.declined_at),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        return cls(
            subject=subject,
            request_sha256=_sha(p, "request"),
            reviewer=_str(p, "reviewer"),
            reason=_str(p, "reason"),
            declined_at=_parse_time(p.get("declinedAt"), "declinedAt"),
        )


@dataclass(frozen=True, kw_only=True)
class DeclineStatement(StageSignoff):
    """An approver's signed "no" to ``model@version`` entering a stage, with the reason.

    A predicate of its own (not an approval with a decision field), so that nothing that
    counts approvals by predicate type can ever count a decline. It binds the same facts an
    approval binds (identity digest, version, stage, policy digests in force) and is signed
    the same way, by the approver's own key. A decline does not withdraw an earlier approval
    (a revocation does) and does not block the promotion by itself: it is on the record.
    """

    PREDICATE_TYPE: ClassVar[str] = uris.DECLINE

    reason: str

    @classmethod
    def of(
        cls,
        version: ModelVersion,
        stage: str,
        approver: str,
        *,
        signed_at: datetime,
        policies: Mapping[str, str],
        reason: str,
    ) -> DeclineStatement:
        return cls(**cls._facts_of(version, stage, approver, signed_at, policies), reason=reason)

    def predicate(self) -> dict[str, Any]:
        return {**self._signoff(), "reason": self.reason}

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        identity = _sha(p, "identity")
        return cls(**cls._read_signoff(subject, p, identity), reason=_str(p, "reason"))


@dataclass(frozen=True, kw_only=True)
class ApprovalRefusal(Record):
    """A refused approval or waiver submission, logged with the reason (log-key signed)."""

    PREDICATE_TYPE: ClassVar[str] = uris.APPROVAL_REFUSED

    kind: str
    reason: str
    claimed: Mapping[str, Any]
    envelope_sha256: str
    refused_at: datetime

    def predicate(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "claimed": dict(self.claimed),
            "envelope": {"sha256": self.envelope_sha256},
            "refusedAt": stamp(self.refused_at),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        return cls(
            subject=subject,
            kind=_str(p, "kind"),
            reason=_str(p, "reason"),
            claimed=dict(p.get("claimed") or {}),
            envelope_sha256=_sha(p, "envelope"),
            refused_at=_parse_time(p.get("refusedAt"), "refusedAt"),
        )


@dataclass(frozen=True, kw_only=True)
class Revocation(Record):
    """A signed revocation of an approval or waiver, named by its envelope digest."""

    PREDICATE_TYPE: ClassVar[str] = uris.REVOCATION

    revokes_sha256: str
    revokes_kind: str
    revoker: str
    reason: str
    revoked_at: datetime

    def predicate(self) -> dict[str, Any]:
        return {
            "revokes": {"sha256": self.revokes_sha256, "kind": self.revokes_kind},
            "revoker": self.revoker,
            "reason": self.reason,
            "revokedAt": stamp(self.revoked_at),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        rev = _dict(p, "revokes")
        return cls(
            subject=subject,
            revokes_sha256=_str(rev, "sha256"),
            revokes_kind=_str(rev, "kind"),
            revoker=_str(p, "revoker"),
            reason=str(p.get("reason") or ""),
            revoked_at=_parse_time(p.get("revokedAt"), "revokedAt"),
        )


@dataclass(frozen=True, kw_only=True)
class RosterChange(Record):
    """The roster in force changed: the new document, its digest and the diff."""

    PREDICATE_TYPE: ClassVar[str] = uris.ROSTER_CHANGE

    roster_sha256: str
    previous_sha256: str | None
    roster: Mapping[str, Any]
    diff: Mapping[str, Any]
    actor: str
    applied_at: datetime

    def predicate(self) -> dict[str, Any]:
        return {
            "digest": {"sha256": self.roster_sha256},
            "previous": None if self.previous_sha256 is None else {"sha256": self.previous_sha256},
            "roster": dict(self.roster),
            "diff": dict(self.diff),
            "actor": self.actor,
            "appliedAt": stamp(self.applied_at),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        prev = p.get("previous")
        return cls(
            subject=subject,
            roster_sha256=_sha(p, "digest"),
            previous_sha256=None if prev is None else _sha(p, "previous"),
            roster=_dict(p, "roster"),
            diff=dict(p.get("diff") or {}),
            actor=_str(p, "actor", ""),
            applied_at=_parse_time(p.get("appliedAt"), "appliedAt"),
        )


@dataclass(frozen=True, kw_only=True)
class KeyChange(Record):
    """The log key was rotated (written by :meth:`TransparencyLog.rotate_key`)."""

    PREDICATE_TYPE: ClassVar[str] = uris.KEY_CHANGE

    old_vkey: str
    new_vkey: str
    reason: str
    actor: str
    time: datetime

    def predicate(self) -> dict[str, Any]:
        return {
            "old_vkey": self.old_vkey,
            "new_vkey": self.new_vkey,
            "reason": self.reason,
            "actor": self.actor,
            "time": iso_time(self.time),
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        return cls(
            subject=subject,
            old_vkey=_str(p, "old_vkey"),
            new_vkey=_str(p, "new_vkey"),
            reason=str(p.get("reason") or ""),
            actor=str(p.get("actor") or ""),
            time=_parse_time(p.get("time"), "time"),
        )


@dataclass(frozen=True, kw_only=True)
class Transition(Record):
    """A stage transition, or an attempt (``denied``, ``aborted``); ``details`` carry the
    decision (verdict, policy digests, approvals, waivers, reasons, log head)."""

    PREDICATE_TYPE: ClassVar[str] = uris.TRANSITION

    kind: str
    from_stage: str | None
    to_stage: str
    actor: str
    at: datetime
    reason: str

    @classmethod
    def of(
        cls,
        version: ModelVersion,
        *,
        from_stage: str | None,
        to_stage: str,
        actor: str,
        at: datetime,
        kind: str,
        reason: str,
        details: Mapping[str, Any],
    ) -> Transition:
        return cls(
            subject=Subject.of(version),
            kind=kind,
            from_stage=from_stage,
            to_stage=to_stage,
            actor=actor,
            at=at,
            reason=reason,
            extra=dict(details),
        )

    @property
    def details(self) -> Mapping[str, Any]:
        return self.extra

    def predicate(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fromStage": self.from_stage,
            "toStage": self.to_stage,
            "actor": self.actor,
            "at": iso_time(self.at),
            "reason": self.reason,
        }

    @classmethod
    def _read(cls, subject: Subject, p: Predicate) -> Self:
        frm = p.get("fromStage")
        return cls(
            subject=subject,
            kind=_str(p, "kind"),
            from_stage=None if frm is None else str(frm),
            to_stage=_str(p, "toStage"),
            actor=_str(p, "actor", ""),
            at=_parse_time(p.get("at"), "at"),
            reason=str(p.get("reason") or ""),
        )


_BY_TYPE: dict[str, type[Record]] = {
    c.PREDICATE_TYPE: c
    for c in (
        Registration,
        EvidenceAdded,
        Evaluation,
        ApprovalStatement,
        ApprovalRefusal,
        DeclineStatement,
        WaiverStatement,
        WaiverRequest,
        WaiverRequestDeclined,
        Revocation,
        RosterChange,
        KeyChange,
        Transition,
    )
}


def parse_record(stmt: Mapping[str, Any]) -> Record:
    """The typed record for a statement (``InputError`` for an unknown predicate type)."""
    cls = _BY_TYPE.get(str(stmt.get("predicateType")))
    if cls is None:
        raise InputError(f"unknown predicate type {stmt.get('predicateType')!r}")
    return cls.from_statement(stmt)

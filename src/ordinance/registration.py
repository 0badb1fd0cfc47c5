"""Registering a version and attaching evidence: validate, hash, store, log.

Everything that can fail on bad input fails before anything is written; blobs, index rows
and the log entry land together or not at all. The functions take their built collaborators
(:class:`RegistrationParts`, from :meth:`ordinance.workspace.Workspace.registration`), never
the workspace; :meth:`Workspace.register` and :meth:`Workspace.attach_evidence` are the
convenience entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ordinance.errors import ConflictError, InputError, ManifestError, NotFoundError
from ordinance.model import Evidence, ModelVersion
from ordinance.records import Registration
from ordinance.store.transaction import write_transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ordinance.evidence import Staging
    from ordinance.gate import Gate
    from ordinance.log import TransparencyLog
    from ordinance.manifest import ResolvedManifest
    from ordinance.storage import EvidenceBackend
    from ordinance.store.registry import SqlRegistry

__all__ = [
    "AttachResult",
    "RegisterResult",
    "RegistrationParts",
    "attach_evidence",
    "register",
]


@dataclass(frozen=True)
class RegistrationParts:
    """What registration and evidence attachment work with, built once by the composition
    root."""

    #: the stage a newly registered version starts in
    initial_stage: str
    #: the database: the blob lock and the write transaction
    engine: Engine
    registry: SqlRegistry
    #: decides whether a version's risk tier may be registered here
    gate: Gate
    evidence: EvidenceBackend
    #: the signing log for a write; refuses (nothing written) when the workspace cannot log
    require_log: Callable[[str], TransparencyLog]


@dataclass(frozen=True)
class AttachResult:
    evidence: Evidence
    created: bool
    log_index: int | None


@dataclass(frozen=True)
class RegisterResult:
    version: ModelVersion
    created: bool
    log_index: int | None


def register(
    parts: RegistrationParts, manifest: Path, *, now: datetime | None = None
) -> RegisterResult:
    """Register the version a manifest describes: validate, hash, store, log.

    Everything that can fail on bad input fails before anything is written. Re-registering
    an identical manifest is a no-op; a different manifest for the same version is refused.
    """
    from ordinance.manifest import load_manifest

    now = now or datetime.now(UTC)
    resolved = load_manifest(manifest, now=now)
    registry = parts.registry
    try:
        existing = registry.get_version(resolved.model.name, resolved.version)
    except NotFoundError:
        existing = None
    if existing is not None:
        return _same_manifest(existing, resolved, "is already")
    refused = parts.gate.check_registration(resolved.model)
    if refused is not None:
        raise ManifestError(resolved.locator.locate(("model", "risk_tier")), refused)
    version = _version_from_manifest(resolved, parts.initial_stage, now)
    # nothing is written unless it can be logged; the log key is loaded before taking
    # the writer lock (decrypting it can be slow)
    log = parts.require_log("register")
    try:
        with _staged_blobs(parts) as staging:
            for f in resolved.files:
                staging.put(f.source, f.sha256)
            # the registry rows, the log entry and its checkpoint: one transaction, so a
            # crash or a refused append never leaves a registered but unlogged version
            with write_transaction(parts.engine, "registration") as conn:
                stmt = Registration.of(version, resolved.identity.statement()).to_statement()
                log_index = log.append_statements_in(conn, [stmt])[0]
                registry.add_version_in(conn, version, log_index=log_index)
    except ConflictError:
        # a concurrent registration of the same version committed first
        winner = registry.get_version(resolved.model.name, resolved.version)
    else:
        return RegisterResult(version, created=True, log_index=log_index)
    return _same_manifest(winner, resolved, "was just")


def _same_manifest(
    registered: ModelVersion, resolved: ResolvedManifest, when: str
) -> RegisterResult:
    """Registering again from the same manifest is a no-op; from another one it is refused."""
    if registered.manifest_sha256 == resolved.sha256:
        return RegisterResult(registered, created=False, log_index=None)
    raise ManifestError(
        resolved.locator.locate(("version",)),
        f"{registered.ref} {when} registered from a different manifest "
        f"(registered {registered.manifest_sha256[:12]}…, given {resolved.sha256[:12]}…)",
    )


def attach_evidence(
    parts: RegistrationParts,
    model: str,
    version: str,
    path: Path,
    *,
    kind: str,
    name: str | None = None,
    attributes: dict[str, Any] | None = None,
    description: str = "",
    actor: str = "",
    now: datetime | None = None,
) -> AttachResult:
    """Attach a file produced after registration (a validation or drift report, an
    explainability artifact) to a version: stored by digest, recorded, and logged.

    Evidence is append-only: attaching the same kind/name again with the same bytes is a
    no-op, with different bytes it is refused.
    """
    import mimetypes
    import re

    from ordinance._bounds import check_json
    from ordinance._canonical import sha256_stream
    from ordinance._files import EVIDENCE_LIMIT, check_regular, open_regular
    from ordinance.evidence import validate_evidence
    from ordinance.model import Evidence

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", kind):
        raise InputError(f"evidence kind {kind!r}: use lowercase letters, digits and _")
    try:
        check_json(attributes or {})
    except ValueError as exc:
        raise InputError(f"evidence attributes: {exc}") from None
    now = now or datetime.now(UTC)
    name = name or path.name
    # a regular file within the limit (a FIFO or device is refused, never read), usable
    # by every later report: evidence is append-only
    check_regular(path, limit=EVIDENCE_LIMIT)
    validate_evidence(kind, path, name, attributes)
    try:
        with open_regular(path) as f:
            digest, size = sha256_stream(f)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    registry = parts.registry
    v = registry.get_version(model, version)
    from ordinance.identity import IDENTITY_RESOURCE, is_single_file_identity

    if IDENTITY_RESOURCE in (attributes or {}):
        raise InputError(f"attribute {IDENTITY_RESOURCE!r} is set by Ordinance at registration")
    if kind == "model" and not is_single_file_identity(
        v.identity.sha256, v.identity.method, v.identity.resources, digest
    ):
        # `model` evidence claims to be the model the identity names; only its own bytes are
        raise InputError(
            f"{path.name} is not the model {v.ref}'s identity covers "
            f"(sha256:{v.identity.sha256[:12]}…): model files come with the registration "
            "(artifacts.path); attach this file under another kind"
        )
    for e in v.evidence:
        if (e.kind, e.name) == (kind, name):
            if e.sha256 == digest:
                return AttachResult(e, created=False, log_index=None)
            raise ConflictError(
                f"{v.ref} already has {kind} evidence named {name!r} with other content"
            )
    ev = Evidence(
        kind=kind,
        name=name,
        sha256=digest,
        size=size,
        media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        created_at=now,
        attributes=dict(attributes or {}),
        description=description,
    )
    from ordinance.records import EvidenceAdded, EvidenceItem

    item = EvidenceItem.of(ev)
    stmt = EvidenceAdded.of(v, (item,), actor).to_statement()
    log = parts.require_log("attach evidence")
    with _staged_blobs(parts) as staging:
        staging.put(path, digest)
        # the evidence row and its log entry commit together or not at all
        with write_transaction(parts.engine, "attaching evidence") as conn:
            index = log.append_statements_in(conn, [stmt])[0]
            registry.add_evidence(model, version, [ev], conn=conn, log_index=index)
    return AttachResult(ev, created=True, log_index=index)


@contextmanager
def _staged_blobs(parts: RegistrationParts) -> Iterator[Staging]:
    """Blob writes whose rows commit in the block; see :func:`staged_writes`."""
    from ordinance.evidence import staged_writes
    from ordinance.store._blob_lock import blob_lock

    with (
        blob_lock(parts.engine) as lock,
        staged_writes(parts.evidence, lock, parts.registry.referenced_evidence) as staging,
    ):
        yield staging


def _version_from_manifest(r: ResolvedManifest, stage: str, now: datetime) -> ModelVersion:
    created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
    return ModelVersion(
        model=r.model,
        version=r.version,
        stage=stage,
        author=r.author,
        created_at=created,
        registered_at=now,
        identity=r.identity_value(),
        lineage=r.lineage,
        metrics=r.metrics,
        documentation=r.documentation,
        evidence=r.evidence,
        manifest_sha256=r.sha256,
    )

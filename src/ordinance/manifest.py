"""Version manifests: the file a training pipeline writes to describe a version.

A manifest (YAML or JSON) is parsed into frozen pydantic objects with ``extra="forbid"``
and every referenced file is resolved and hashed *before* anything is written, so a bad
manifest is rejected with one located line and leaves the store untouched.
The JSON Schema published in ``docs/schemas/manifest-v1.schema.json`` is generated
from :class:`Manifest` (``python -m ordinance.manifest`` prints it).
"""

from __future__ import annotations

import errno
import json
import mimetypes
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordinance import uris
from ordinance._bounds import check_finite, check_json, check_time
from ordinance._canonical import sha256_hex, sha256_stream
from ordinance._files import EVIDENCE_LIMIT, UnsafeFileError, check_regular, confined, open_regular
from ordinance._yamlloc import Locator, load_document, parse_as
from ordinance.errors import InputError, Location, ManifestError
from ordinance.evidence import validate_evidence
from ordinance.identity import IDENTITY_RESOURCE, ModelIdentity, compute_identity
from ordinance.model import (
    DOCUMENTATION_FIELDS,
    RISK_TIER_PATTERN,
    CodeRef,
    Dataset,
    Evidence,
    Identity,
    Lineage,
    Model,
)

API_VERSION = "ordinance/v1"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class ModelSpec(_Strict):
    name: str = Field(pattern=_NAME, description="Model name, unique in the workspace.")
    owner: str = Field(min_length=1)
    risk_tier: str | None = Field(
        default=None,
        pattern=RISK_TIER_PATTERN,
        description="Risk tier (one the workspace accepts); required when a configured "
        "policy pack scopes on it.",
    )
    description: str = ""
    tags: tuple[str, ...] = ()


class ArtifactsSpec(_Strict):
    path: str = Field(
        min_length=1, description="Model file or directory, relative to the manifest."
    )
    method: Literal["files", "shards"] = "files"
    shard_size: int = Field(default=1_000_000_000, gt=0)


class DatasetSpec(_Strict):
    name: str = Field(min_length=1)
    uri: str = Field(min_length=1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    path: str | None = Field(
        default=None, description="Local copy to hash, relative to the manifest."
    )
    role: Literal["training", "validation", "evaluation", "reference", "other"] = "training"


class LineageSpec(_Strict):
    datasets: tuple[DatasetSpec, ...] = ()
    code: CodeRef | None = None
    training_run: str | None = None
    parent: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)


class EvidenceSpec(_Strict):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    path: str = Field(min_length=1)
    name: str | None = None
    description: str = ""
    media_type: str | None = None
    created_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _plain_json(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_json(v)
        return v

    @field_validator("created_at")
    @classmethod
    def _sane_time(cls, v: datetime | None) -> datetime | None:
        if v is not None:
            check_time(v)
        return v


class Manifest(_Strict):
    """A version manifest, ``apiVersion: ordinance/v1``."""

    apiVersion: Literal["ordinance/v1"]
    model: ModelSpec
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
    author: str = Field(min_length=1)
    created_at: datetime | None = None
    artifacts: ArtifactsSpec
    lineage: LineageSpec = LineageSpec()
    metrics: dict[str, float] = Field(default_factory=dict)
    documentation: dict[str, str] = Field(default_factory=dict)
    evidence: tuple[EvidenceSpec, ...] = ()

    @field_validator("metrics")
    @classmethod
    def _finite(cls, v: dict[str, float]) -> dict[str, float]:
        for name, value in v.items():
            try:
                check_finite(value)
            except ValueError as exc:
                raise ValueError(f"metric {name!r} {exc}") from None
        return v

    @field_validator("created_at")
    @classmethod
    def _sane_time(cls, v: datetime | None) -> datetime | None:
        if v is not None:
            check_time(v)
        return v

    @field_validator("documentation")
    @classmethod
    def _known_doc_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(DOCUMENTATION_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown documentation field {unknown[0]!r} "
                f"(known: {', '.join(DOCUMENTATION_FIELDS)})"
            )
        return v


@dataclass(frozen=True)
class StagedFile:
    """A file the manifest references, hashed and ready to copy into the store."""

    source: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class ResolvedManifest:
    """A manifest with every file found and hashed: nothing left to fail but storage."""

    path: Path
    sha256: str
    model: Model
    version: str
    author: str
    created_at: datetime
    identity: ModelIdentity
    lineage: Lineage
    metrics: dict[str, float]
    documentation: dict[str, str]
    evidence: tuple[Evidence, ...]
    files: tuple[StagedFile, ...]
    locator: Locator

    def identity_value(self) -> Identity:
        return Identity(
            sha256=self.identity.root_digest,
            method=self.identity.method,
            resources=len(self.identity.resources),
            name=self.identity.name,
        )


def load_manifest(path: Path, *, now: datetime | None = None) -> ResolvedManifest:
    """Parse, validate and resolve a manifest; raise :class:`ManifestError` on any problem."""
    data, locator = load_document(path, ManifestError)
    if not isinstance(data, dict):
        raise ManifestError(Location(str(path), 1, 1), "a manifest must be a mapping")
    manifest = parse_as(Manifest, data, locator, ManifestError)
    return _resolve(path, manifest, locator, now or datetime.now(UTC))


def _local(base: Path, rel: str, locator: Locator, field: tuple[str | int, ...]) -> Path:
    """A path the manifest references: inside the manifest's directory, or refused."""
    try:
        return confined(base, rel)
    except UnsafeFileError as exc:
        raise ManifestError(locator.locate(field), f"{exc.problem}: {rel}") from None


def _hash(
    path: Path, locator: Locator, field: tuple[str | int, ...], limit: int | None = EVIDENCE_LIMIT
) -> StagedFile:
    """Hash a regular file (a FIFO, device or oversized file is refused, never read)."""
    rel = path.name
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if limit is not None and size > limit:
                raise UnsafeFileError(path, f"too large ({size:,} bytes; the limit is {limit:,})")
            digest, size = sha256_stream(f)
    except UnsafeFileError as exc:
        raise ManifestError(locator.locate(field), f"{exc.problem}: {rel}") from None
    except OSError as exc:
        raise ManifestError(locator.locate(field), f"cannot read {rel}: {exc.strerror}") from None
    return StagedFile(path, digest, size)


def _check_artifacts(base: Path, art: Path, locator: Locator) -> None:
    """Every file under the model path: regular, and inside the manifest's directory.

    Symlinks are followed as the model-signing identity follows them, but a link leading
    outside the manifest's directory or back into a directory already walked (a loop) is
    refused, as is any file that is not regular (a FIFO or a link to ``/dev/zero``).
    """
    field = ("artifacts", "path")
    root = os.path.realpath(base)
    if not art.is_dir():
        _hash(art, locator, field, limit=None)
        return
    seen: set[tuple[int, int]] = set()
    stack = [art]
    while stack:
        d = stack.pop()
        st = d.stat()
        if (st.st_dev, st.st_ino) in seen:
            rel = d.relative_to(base).as_posix()
            raise ManifestError(locator.locate(field), f"symbolic link loop: {rel}")
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            rel = d.relative_to(base).as_posix()
            raise ManifestError(
                locator.locate(field), f"cannot read {rel}: {exc.strerror}"
            ) from None
        for e in entries:
            p = Path(e.path)
            rel = p.relative_to(base).as_posix()
            try:
                real = os.path.realpath(p, strict=True)
            except OSError as exc:
                problem = "symbolic link loop" if exc.errno == errno.ELOOP else "broken link"
                raise ManifestError(locator.locate(field), f"{problem}: {rel}") from None
            if os.path.commonpath([root, real]) != root:
                raise ManifestError(
                    locator.locate(field),
                    f"a symbolic link leads outside the manifest's directory: {rel}",
                )
            if os.path.isdir(real):
                stack.append(p)
            else:
                try:
                    check_regular(p)
                except UnsafeFileError as exc:
                    raise ManifestError(locator.locate(field), f"{exc.problem}: {rel}") from None


def _resolve(path: Path, m: Manifest, locator: Locator, now: datetime) -> ResolvedManifest:
    base = path.parent
    files: list[StagedFile] = []
    cache: dict[str, StagedFile] = {}
    seen_files: set[str] = set()

    art_path = _local(base, m.artifacts.path, locator, ("artifacts", "path"))
    _check_artifacts(base, art_path, locator)
    try:
        identity = compute_identity(
            art_path,
            name=m.model.name,
            method=m.artifacts.method,
            shard_size=m.artifacts.shard_size,
        )
    except OSError as exc:
        raise ManifestError(
            locator.locate(("artifacts", "path")), f"cannot read model files: {exc.strerror}"
        ) from None
    evidence: list[Evidence] = []
    if art_path.is_file():
        staged = _hash(art_path, locator, ("artifacts", "path"), limit=None)
        files.append(staged)
        seen_files.add(staged.sha256)
        evidence.append(
            Evidence(
                kind="model",
                name=art_path.name,
                sha256=staged.sha256,
                size=staged.size,
                media_type=_media_type(art_path),
                created_at=m.created_at or now,
                attributes={"identity_sha256": identity.root_digest},
            )
        )

    datasets: list[Dataset] = []
    for i, ds in enumerate(m.lineage.datasets):
        digest = ds.sha256
        if ds.path is not None:
            field = ("lineage", "datasets", i, "path")
            staged = _hash(_local(base, ds.path, locator, field), locator, field)
            if digest is not None and digest != staged.sha256:
                raise ManifestError(
                    locator.locate(("lineage", "datasets", i, "sha256")),
                    f"digest does not match {ds.path} (file hashes to {staged.sha256[:12]}…)",
                )
            digest = staged.sha256
        datasets.append(Dataset(name=ds.name, uri=ds.uri, sha256=digest, role=ds.role))

    names: set[tuple[str, str]] = set()
    for i, ev in enumerate(m.evidence):
        ev_field: tuple[str | int, ...] = ("evidence", i, "path")
        staged = cache.get(ev.path) or _hash(
            _local(base, ev.path, locator, ev_field), locator, ev_field
        )
        cache[ev.path] = staged
        name = ev.name or Path(ev.path).name
        if (ev.kind, name) in names:
            raise ManifestError(
                locator.locate(("evidence", i, "name")),
                f"duplicate evidence {ev.kind}/{name}",
            )
        names.add((ev.kind, name))
        try:
            validate_evidence(ev.kind, staged.source, name, ev.attributes)
        except InputError as exc:
            raise ManifestError(locator.locate(ev_field), exc.message) from None
        attributes = dict(ev.attributes)
        if ev.kind == "model" or IDENTITY_RESOURCE in attributes:
            # `model` evidence claims to be the model: only a file the identity digests
            covering = [r.name for r in identity.resources if r.digest == staged.sha256]
            if ev.kind != "model" or not covering:
                raise ManifestError(
                    locator.locate(ev_field),
                    f"model evidence {name!r} is not one of the files the version's identity "
                    "covers: put it under artifacts.path, or attach it under another kind"
                    if ev.kind == "model"
                    else f"attribute {IDENTITY_RESOURCE!r} is set by Ordinance, not a manifest",
                )
            attributes[IDENTITY_RESOURCE] = covering[0]
        if staged.sha256 not in seen_files:
            seen_files.add(staged.sha256)
            files.append(staged)
        evidence.append(
            Evidence(
                kind=ev.kind,
                name=name,
                sha256=staged.sha256,
                size=staged.size,
                media_type=ev.media_type or _media_type(staged.source),
                created_at=ev.created_at or m.created_at or now,
                attributes=attributes,
                description=ev.description,
            )
        )

    lineage = Lineage(
        datasets=tuple(datasets),
        code=m.lineage.code,
        training_run=m.lineage.training_run,
        parent=m.lineage.parent,
        environment=dict(m.lineage.environment),
    )
    model = Model(
        name=m.model.name,
        owner=m.model.owner,
        risk_tier=m.model.risk_tier,
        description=m.model.description,
        tags=m.model.tags,
    )
    # the bytes that were parsed (read once: no second read to race with)
    manifest_digest = sha256_hex((locator.text or "").encode("utf-8"))
    return ResolvedManifest(
        path=path,
        sha256=manifest_digest,
        model=model,
        version=m.version,
        author=m.author,
        created_at=m.created_at or now,
        identity=identity,
        lineage=lineage,
        metrics=dict(m.metrics),
        documentation=dict(m.documentation),
        evidence=tuple(evidence),
        files=tuple(files),
        locator=locator,
    )


def _media_type(p: Path) -> str:
    if p.suffix == ".parquet":
        return "application/vnd.apache.parquet"
    if p.suffix in (".yaml", ".yml"):
        return "application/yaml"
    return mimetypes.guess_type(p.name)[0] or "application/octet-stream"


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (draft 2020-12), as published in ``docs/schemas/``."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = uris.MANIFEST_SCHEMA_ID
    schema["title"] = "Ordinance version manifest (apiVersion ordinance/v1)"
    return schema


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(json_schema(), indent=2, sort_keys=True))

"""Evidence storage backends: the local file system and S3-compatible object storage.

Evidence is content-addressed: a blob is stored under its SHA-256 and never changes, so
every backend offers the same small interface (:class:`EvidenceBackend`) and the rest of
Ordinance does not care where the bytes live. The local backend is
:class:`ordinance.evidence.EvidenceStore`; :class:`S3EvidenceStore` keeps blobs under
``s3://BUCKET/PREFIX/sha256/ab/<digest>`` through boto3 and reads them through a local cache
whose copies are re-hashed on the way in (a bucket that returns other bytes is an error,
never evidence).

Credentials never go into ``config.yaml``: boto3 reads them from its usual chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role).

:func:`receive` streams an upload to a temporary file while hashing it, so a 1 GiB upload
never sits in memory, and refuses it when the digest is not the one announced.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ordinance.errors import InfrastructureError, InputError, NotFoundError

if TYPE_CHECKING:
    from ordinance.evidence import EvidenceStore

__all__ = [
    "DigestMismatch",
    "EvidenceBackend",
    "EvidenceConfig",
    "S3EvidenceStore",
    "check_digest",
    "open_evidence_store",
    "receive",
    "receive_async",
]

_CHUNK = 1 << 20


class DigestMismatch(InputError):
    """Uploaded bytes do not hash to the digest they were announced under."""


class EvidenceBackend(Protocol):
    """Where evidence blobs live. Constructing one does no I/O."""

    def has(self, sha256: str) -> bool: ...

    def open_path(self, sha256: str) -> Path:
        """A local, readable file with the blob's bytes; ``NotFoundError`` if missing."""
        ...

    def put(self, source: Path, sha256: str) -> bool:
        """Store ``source`` under its (already verified) digest; True if newly added."""
        ...

    def remove(self, sha256: str) -> None:
        """Undo a ``put`` whose registration failed (never used on referenced blobs)."""
        ...


class EvidenceConfig(BaseModel):
    """``evidence:`` in ``config.yaml``: where the workspace keeps evidence blobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    backend: Literal["local", "s3"] = "local"
    path: str = Field(default="evidence", description="local: directory, relative to the home")
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = Field(
        default=None, description="s3: an S3-compatible endpoint (MinIO, Ceph, a test server)"
    )
    region: str | None = None
    cache: str = Field(default="cache/evidence", description="s3: local read cache")


def check_digest(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InputError(f"not a sha256 digest: {sha256!r}")
    return sha256


@dataclass
class S3EvidenceStore:
    """Blobs in an S3 bucket, read through a verified local cache."""

    bucket: str
    prefix: str
    cache_root: Path
    endpoint_url: str | None = None
    region: str | None = None
    _client: Any = field(default=None, repr=False)

    def _s3(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                from ordinance.errors import MissingExtraError

                raise MissingExtraError("server", "boto3") from None
            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region or "us-east-1",
                config=Config(
                    connect_timeout=5,
                    read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        return self._client

    def key(self, sha256: str) -> str:
        check_digest(sha256)
        p = self.prefix.strip("/")
        return f"{p + '/' if p else ''}sha256/{sha256[:2]}/{sha256}"

    def _cache_path(self, sha256: str) -> Path:
        return self.cache_root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3().head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise InfrastructureError(f"evidence store s3://{self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise InfrastructureError(f"evidence store s3://{self.bucket}: {exc}") from exc
        return True

    def put(self, source: Path, sha256: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.has(sha256):
            return False
        try:
            # multipart for large files: streamed from disk, never whole in memory; an
            # interrupted multipart upload leaves no object behind
            self._s3().upload_file(
                str(source),
                self.bucket,
                self.key(sha256),
                ExtraArgs={"Metadata": {"sha256": sha256}},
            )
        except (BotoCoreError, ClientError) as exc:
            raise InfrastructureError(
                f"cannot write evidence to s3://{self.bucket}: {exc}"
            ) from exc
        return True

    def open_path(self, sha256: str) -> Path:
        from botocore.exceptions import BotoCoreError, ClientError

        dest = self._cache_path(check_digest(sha256))
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming.")
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as f:
                try:
                    body = self._s3().get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code")
                    if code in ("404", "NoSuchKey", "NotFound"):
                        raise NotFoundError(
                            f"evidence blob {sha256[:12]}… is missing from s3://{self.bucket}"
                        ) from None
                    raise
                for chunk in body.iter_chunks(_CHUNK):
                    h.update(chunk)
                    f.write(chunk)
            if h.hexdigest() != sha256:
                raise InfrastructureError(
                    f"s3://{self.bucket}/{self.key(sha256)} does not hash to its name "
                    f"(got {h.hexdigest()[:12]}…): the bucket was altered"
                )
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
        except (BotoCoreError, ClientError) as exc:
            raise InfrastructureError(
                f"cannot read evidence from s3://{self.bucket}: {exc}"
            ) from exc
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest

    def remove(self, sha256: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3().delete_object(Bucket=self.bucket, Key=self.key(sha256))
        except (BotoCoreError, ClientError) as exc:
            raise InfrastructureError(f"cannot remove s3://{self.bucket}: {exc}") from exc
        self._cache_path(sha256).unlink(missing_ok=True)


def open_evidence_store(config: EvidenceConfig, home: Path) -> EvidenceBackend:
    """The configured backend (no I/O)."""
    from ordinance.evidence import EvidenceStore

    if config.backend == "local":
        root = Path(config.path)
        store: EvidenceStore = EvidenceStore(root if root.is_absolute() else home / root)
        return store
    if not config.bucket:
        raise InputError("evidence.backend s3 needs evidence.bucket")
    cache = Path(config.cache)
    return S3EvidenceStore(
        bucket=config.bucket,
        prefix=config.prefix,
        cache_root=cache if cache.is_absolute() else home / cache,
        endpoint_url=config.endpoint_url,
        region=config.region,
    )


# --------------------------------------------------------------------------- uploads


@dataclass
class Received:
    """An upload spooled to ``path`` and hashed (delete it when done)."""

    path: Path
    sha256: str
    size: int


class _Spool:
    def __init__(self, spool_dir: Path, max_bytes: int) -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=spool_dir, prefix="upload.", suffix=".part")
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise InputError(f"upload larger than the server's limit of {self.max_bytes} bytes")
        self.hash.update(chunk)
        self.file.write(chunk)

    def finish(self, expected: str) -> Received:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        got = self.hash.hexdigest()
        if got != expected:
            raise DigestMismatch(
                f"upload does not match its digest: announced sha256:{expected[:16]}…, "
                f"received sha256:{got[:16]}… ({self.size} bytes); nothing stored"
            )
        return Received(self.path, got, self.size)

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


def receive(
    chunks: Iterator[bytes], expected: str, spool_dir: Path, *, max_bytes: int = 1 << 40
) -> Received:
    """Write ``chunks`` to a temporary file in ``spool_dir`` while hashing them; the file is
    removed and :class:`DigestMismatch` raised unless they hash to ``expected``."""
    check_digest(expected)
    spool = _Spool(spool_dir, max_bytes)
    try:
        for chunk in chunks:
            spool.write(chunk)
        return spool.finish(expected)
    except BaseException:
        spool.discard()
        raise


async def receive_async(
    chunks: AsyncIterator[bytes], expected: str, spool_dir: Path, *, max_bytes: int = 1 << 40
) -> Received:
    """:func:`receive` for an async stream (an ASGI request body)."""
    check_digest(expected)
    spool = _Spool(spool_dir, max_bytes)
    try:
        async for chunk in chunks:
            if chunk:
                spool.write(chunk)
        return spool.finish(expected)
    except BaseException:
        spool.discard()
        raise

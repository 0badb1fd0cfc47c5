"""The content-addressed evidence store: files kept under ``evidence/sha256/ab/<digest>``.

Blobs are write-once: a blob is created under its digest by a hard link (which never
replaces an existing file), after the copied bytes were hashed and found to match; it is
never rewritten. A registration that fails may remove the blobs it created, but only under
the blob lock held exclusive and only those no database row references: every writer
holds it shared from its first blob write until its rows are committed (or not), so a
blob another registration is about to reference, or already references, is never deleted
(:func:`staged_writes`; the lock is :func:`ordinance.store._blob_lock.blob_lock`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ordinance._files import UnsafeFileError, current_umask, open_regular, read_limited
from ordinance.errors import InfrastructureError, InputError, NotFoundError

if TYPE_CHECKING:
    from ordinance.storage import EvidenceBackend
    from ordinance.store._blob_lock import BlobLock

_CHUNK = 1 << 20

#: given digests, which of them a stored row references
Referenced = Callable[[Iterable[str]], set[str]]
#: evidence that reports and rules parse as JSON is parsed (and bounded) when it is added
JSON_EVIDENCE_LIMIT = 64 * 1024 * 1024


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} is too large for a float")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_strict_json(path: Path, what: str) -> Any:
    """Parse a JSON evidence file: UTF-8, finite numbers only (no NaN, no Infinity)."""
    data = read_limited(path, JSON_EVIDENCE_LIMIT)
    try:
        return json.loads(
            data.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError as exc:
        raise InputError(f"{what}: not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise InputError(f"{what}: not usable JSON: nested too deeply") from None
    except ValueError as exc:
        raise InputError(f"{what}: not usable JSON: {str(exc).splitlines()[0]}") from None


def validate_evidence(
    kind: str, path: Path, name: str, attributes: Mapping[str, Any] | None = None
) -> None:
    """Refuse, when it is added, evidence that reports or rules could not use later.

    Evidence is append-only: a file added today is read by every later card, report and
    check, so one bad file would break them for good. ``explainability`` evidence must be a
    valid v1 artifact (its JSON Schema, finite numbers); any other ``.json`` evidence must be
    strict JSON (finite numbers, UTF-8); a ``predictions`` table must match its declared
    columns and types (:func:`ordinance.predictions.check_declaration`). Raises
    :class:`InputError` (exit 2).
    """
    what = f"{kind} evidence {name!r}"
    if kind == "explainability":
        from ordinance.metrics.explain import validate_explainability_artifact

        doc = read_strict_json(path, what)
        if not isinstance(doc, dict):
            raise InputError(f"{what}: an explainability artifact is a JSON object")
        try:
            validate_explainability_artifact(doc)
        except InputError as exc:
            raise InputError(
                f"{what}: {exc.message.removeprefix('<explainability artifact>: ')}"
            ) from None
    elif path.suffix.lower() == ".json":
        read_strict_json(path, what)
    if kind == "predictions" and attributes:
        from ordinance.predictions import check_declaration

        check_declaration(path, attributes, what)


@dataclass(frozen=True)
class EvidenceStore:
    """Files by SHA-256 under ``root``. Constructing one does no I/O."""

    root: Path

    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"not a sha256 digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open_path(self, sha256: str) -> Path:
        """The path of a stored blob; NotFoundError if it is missing."""
        p = self.path(sha256)
        if not p.is_file():
            raise NotFoundError(f"evidence blob {sha256[:12]}… is missing from the evidence store")
        return p

    def put(self, source: Path, sha256: str) -> bool:
        """Copy ``source`` in under its (already computed) digest; True if newly added.

        The copy is hashed as it is written; if ``source`` changed since it was hashed the
        copy is discarded and an input error raised, so a blob always holds its digest.
        """
        dest = self.path(sha256)
        if dest.is_file():
            return False
        try:
            with open_regular(source) as src:
                return self._install(dest, sha256, iter(lambda: src.read(_CHUNK), b""))
        except UnsafeFileError:
            raise
        except OSError as exc:
            raise InfrastructureError(f"cannot write evidence store {self.root}: {exc}") from exc

    def put_bytes(self, data: bytes, sha256: str) -> bool:
        dest = self.path(sha256)
        if dest.is_file():
            return False
        try:
            return self._install(dest, sha256, [data])
        except OSError as exc:
            raise InfrastructureError(f"cannot write evidence store {self.root}: {exc}") from exc

    def _install(self, dest: Path, sha256: str, chunks: Iterable[bytes]) -> bool:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming.")
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != sha256:
                raise InputError(
                    f"a file changed while it was being stored (expected sha256 {sha256[:12]}…)"
                )
            os.chmod(tmp, 0o444 & ~current_umask())
            try:
                os.link(tmp, dest)  # never replaces: the first writer's blob stays
            except FileExistsError:
                return False
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)

    def remove(self, sha256: str) -> None:
        """Remove a blob (only :func:`staged_writes` does, and only unreferenced ones)."""
        self.path(sha256).unlink(missing_ok=True)


@contextmanager
def staged_writes(
    store: EvidenceBackend, lock: BlobLock, referenced: Referenced
) -> Iterator[Staging]:
    """Stage blobs for rows about to be committed; on failure remove only the unreferenced.

    Run the blob writes *and* the transaction committing the rows that point at them inside
    the block, with ``lock`` held shared (:func:`ordinance.store._blob_lock.blob_lock`). If the
    block raises, the blobs this staging created are removed under the exclusive lock, that
    is once no other writer is between its blob writes and its commit, and only those no
    committed row references (a concurrent registration of the same files may have won).
    """
    staging = Staging(store)
    try:
        yield staging
    except BaseException:
        if staging.created:
            lock.exclusive()
            # cannot tell, or cannot remove: keep them (an orphan blob is harmless)
            with suppress(Exception):
                keep = referenced(staging.created)
                for digest in staging.created - keep:
                    store.remove(digest)
        raise


@dataclass
class Staging:
    """Blobs written within one :meth:`EvidenceStore.writing` block."""

    store: EvidenceBackend
    created: set[str] = field(default_factory=set)

    def put(self, source: Path, sha256: str) -> bool:
        added = self.store.put(source, sha256)
        if added:
            self.created.add(sha256)
        return added

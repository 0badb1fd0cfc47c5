"""Model identity: the OpenSSF model-signing v1.0 root digest over a model's files.

The identity of a model version is the subject digest of the in-toto Statement that
``model_signing`` (sigstore/model-transparency) would sign for the same files: the
SHA-256 over the concatenated per-resource digests, resources ordered by their
manifest key (POSIX path components, then shard start/end).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from ordinance._files import open_regular
from ordinance.errors import InputError

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
DEFAULT_IGNORE = (".git", ".gitattributes", ".github", ".gitignore")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Resource:
    name: str
    algorithm: str
    digest: str

    def to_dict(self) -> dict[str, str]:
        return {"algorithm": self.algorithm, "digest": self.digest, "name": self.name}


@dataclass(frozen=True)
class ModelIdentity:
    """The model-signing root digest plus the parameters needed to recompute it."""

    name: str
    root_digest: str
    method: Literal["files", "shards"]
    resources: tuple[Resource, ...]
    shard_size: int | None = None
    allow_symlinks: bool = True

    def serialization(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "method": self.method,
            "hash_type": "sha256",
            "allow_symlinks": self.allow_symlinks,
        }
        if self.shard_size is not None:
            s["shard_size"] = self.shard_size
        return s

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement model_signing would wrap in DSSE for these files."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.name, "digest": {"sha256": self.root_digest}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "serialization": self.serialization(),
                "resources": [r.to_dict() for r in self.resources],
            },
        }


def _sort_key(name: str) -> tuple[Any, ...]:
    if name.count(":") >= 2:
        path, start, end = name.rsplit(":", 2)
        if start.isdigit() and end.isdigit():
            return (PurePosixPath(path), int(start), int(end))
    return (PurePosixPath(name), 0, 0)


def _files(root: Path, allow_symlinks: bool, ignore: tuple[str, ...]) -> list[tuple[str, Path]]:
    if root.is_symlink() and not allow_symlinks:
        raise InputError(f"{root}: symbolic links are not allowed in a model")
    if root.is_file():
        return [(".", root)]
    if not root.is_dir():
        raise InputError(f"{root}: model path does not exist")
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=allow_symlinks):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if d not in ignore or rel_dir != Path(".")]
        for fn in filenames:
            p = Path(dirpath) / fn
            rel = p.relative_to(root).as_posix()
            if rel_dir == Path(".") and fn in ignore:
                continue
            if p.is_symlink() and not allow_symlinks:
                raise InputError(f"{p}: symbolic links are not allowed in a model")
            out.append((rel, p))
    return out


def compute_identity(
    path: Path,
    *,
    name: str | None = None,
    method: Literal["files", "shards"] = "files",
    shard_size: int = 1_000_000_000,
    allow_symlinks: bool = True,
    ignore_paths: tuple[str, ...] = DEFAULT_IGNORE,
) -> ModelIdentity:
    """Compute the model-signing v1.0 identity of a model file or directory."""
    resources: list[Resource] = []
    for rel, p in _files(path, allow_symlinks, ignore_paths):
        if method == "files":
            h = hashlib.sha256()
            with open_regular(p) as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            resources.append(Resource(rel, "sha256", h.hexdigest()))
        else:
            size = p.stat().st_size
            with open_regular(p) as f:
                for start in range(0, size, shard_size):
                    end = min(start + shard_size, size)
                    data = f.read(end - start)
                    resources.append(
                        Resource(
                            f"{rel}:{start}:{end}",
                            f"sha256-sharded-{shard_size}",
                            hashlib.sha256(data).hexdigest(),
                        )
                    )
    resources.sort(key=lambda r: _sort_key(r.name))
    root = hashlib.sha256(b"".join(bytes.fromhex(r.digest) for r in resources)).hexdigest()
    return ModelIdentity(
        name=name if name is not None else path.name,
        root_digest=root,
        method=method,
        resources=tuple(resources),
        shard_size=shard_size if method == "shards" else None,
        allow_symlinks=allow_symlinks,
    )


#: evidence attribute Ordinance sets, at registration only, on a ``model`` evidence file that is
#: one of the files the version's identity digests (its resource name)
IDENTITY_RESOURCE = "identity_resource"


def is_single_file_identity(
    root_digest: str, method: str, resources: int, file_sha256: str
) -> bool:
    """Whether a file with SHA-256 ``file_sha256`` is the whole model an identity covers.

    A single-file model hashed by ``files`` has the root digest ``sha256(digest of the file)``;
    only then do the file's bytes alone stand for the version's identity.
    """
    if method != "files" or resources != 1:
        return False
    try:
        raw = bytes.fromhex(file_sha256)
    except ValueError:
        return False
    return hashlib.sha256(raw).hexdigest() == root_digest

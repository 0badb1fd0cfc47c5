"""One canonical serializer (RFC 8785 JSON Canonicalization Scheme) and hashing helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import rfc8785

_CHUNK = 1 << 20


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value (dicts, lists, str, int, float, bool, None)."""
    return bytes(rfc8785.dumps(value))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (hex digest, size in bytes) of a file, streamed."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size

"""One canonical serializer (RFC 8785 JSON Canonicalization Scheme) and hashing helpers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

import rfc8785

_CHUNK = 1 << 20


_MAX_SAFE_INT = 2**53 - 1
_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical bytes of a JSON value: dicts, lists, str, int, float, bool, None.

    Strings are escaped by the C json encoder (which escapes exactly what JCS does: control
    characters, quote and backslash, with lowercase hex); numbers use the ``rfc8785``
    package's ECMAScript formatting; object keys are sorted by UTF-16 code units. A property
    test checks the output equals ``rfc8785.dumps`` byte for byte; this is ~5x faster.
    """
    parts: list[str] = []
    _emit(value, parts)
    return "".join(parts).encode("utf-8")


def _emit(v: Any, out: list[str]) -> None:
    if isinstance(v, str):
        out.append(_encode_str(v))
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        if not -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
            raise ValueError(f"integer {v} is outside the I-JSON range")
        out.append(str(v))
    elif isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"{v} is not a JSON number")
        out.append(rfc8785.dumps(v).decode("ascii"))
    elif isinstance(v, dict):
        out.append("{")
        first = True
        for k in sorted(v, key=_utf16_key):
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings, not {type(k).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(k))
            out.append(":")
            _emit(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot canonicalize {type(v).__name__}")


def _utf16_key(k: Any) -> bytes:
    return k.encode("utf-16-be", "surrogatepass") if isinstance(k, str) else b""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (hex digest, size in bytes) of a file, streamed."""
    with path.open("rb") as f:
        return sha256_stream(f)


def sha256_stream(f: BinaryIO) -> tuple[str, int]:
    """Return (hex digest, size in bytes) of what is left to read in ``f``."""
    h = hashlib.sha256()
    size = 0
    while chunk := f.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size

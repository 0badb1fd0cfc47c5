"""DSSE envelopes around in-toto Statement v1, and Ordinance's predicate types.

The DSSE primitives live in :mod:`ordinance.signing` (so approvals and waivers can use them
without the log); this module adds what the log needs on top: building statements,
signing them into canonical envelope bytes, and reading them back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ordinance import uris
from ordinance._canonical import canonical_json
from ordinance.errors import InputError
from ordinance.signing import (
    PAYLOAD_TYPE_INTOTO,
    DsseSignature,
    Envelope,
    Signer,
    pae,
    sign_envelope,
    verify_envelope,
)

__all__ = [
    "PAYLOAD_TYPE_INTOTO",
    "PREDICATE_APPROVAL",
    "PREDICATE_KEY_CHANGE",
    "PREDICATE_REGISTRATION",
    "PREDICATE_ROSTER_CHANGE",
    "PREDICATE_TRANSITION",
    "PREDICATE_VSA",
    "PREDICATE_WAIVER",
    "STATEMENT_TYPE",
    "DsseSignature",
    "Envelope",
    "StatementInfo",
    "make_statement",
    "pae",
    "sign_statement",
    "statement_info",
    "verify_envelope",
]

STATEMENT_TYPE = uris.STATEMENT_TYPE
PREDICATE_REGISTRATION = uris.REGISTRATION
PREDICATE_TRANSITION = uris.TRANSITION
PREDICATE_APPROVAL = uris.APPROVAL
PREDICATE_WAIVER = uris.WAIVER
PREDICATE_KEY_CHANGE = uris.KEY_CHANGE
PREDICATE_ROSTER_CHANGE = uris.ROSTER_CHANGE
PREDICATE_VSA = uris.VSA


def make_statement(
    name: str, sha256: str, predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 about one subject."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha256}}],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def _check_statement(stmt: Any) -> None:
    if not isinstance(stmt, dict):
        raise InputError("an in-toto statement must be a JSON object")
    if stmt.get("_type") != STATEMENT_TYPE:
        raise InputError(f"statement _type must be {STATEMENT_TYPE}")
    subjects = stmt.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise InputError("statement needs at least one subject")
    for s in subjects:
        if not isinstance(s, dict) or not isinstance(s.get("digest"), dict) or not s["digest"]:
            raise InputError("every statement subject needs a digest")
    if not isinstance(stmt.get("predicateType"), str) or not stmt["predicateType"]:
        raise InputError("statement needs a predicateType")


def sign_statement(statement: Mapping[str, Any], signers: Sequence[Signer]) -> bytes:
    """Canonical JSON of the statement, DSSE-signed; returns the canonical envelope bytes."""
    _check_statement(statement)
    payload = canonical_json(statement)
    return sign_envelope(payload, PAYLOAD_TYPE_INTOTO, signers).to_bytes()


@dataclass(frozen=True)
class StatementInfo:
    """What the log indexes about an entry: first subject and predicate type."""

    statement: dict[str, Any]
    predicate_type: str
    subject_name: str
    subject_digest: str


def statement_info(envelope: Envelope) -> StatementInfo:
    """Parse the in-toto statement inside an envelope (no signature check)."""
    if envelope.payload_type != PAYLOAD_TYPE_INTOTO:
        raise InputError(f"entry payloadType must be {PAYLOAD_TYPE_INTOTO}")
    try:
        stmt = json.loads(envelope.payload)
    except (ValueError, UnicodeDecodeError):
        raise InputError("entry payload is not JSON") from None
    _check_statement(stmt)
    first = stmt["subject"][0]
    digest = first["digest"]
    d = digest.get("sha256")
    if not isinstance(d, str):
        alg = sorted(digest)[0]
        d = f"{alg}:{digest[alg]}"
    return StatementInfo(stmt, stmt["predicateType"], str(first.get("name") or ""), d)

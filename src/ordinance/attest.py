"""Promotion attestations: the SLSA Verification Summary of a decision, and its offline check.

:func:`attestation` exports the VSA the promotion pipeline logged for a version's latest
promotion decision: the exact DSSE envelope bytes stored in the audit log, signed by the
workspace's log key (predicate ``https://slsa.dev/verification_summary/v1``).

:func:`verify_attestation` is what a consumer (a deployment gate, an auditor) runs offline with
only the log's vkey. It applies the SLSA consumer checks in order and stops at the first
failure:

1. ``signature``       the DSSE signature verifies with the trusted vkey (forgery, tampering)
2. ``subject``         the subject digest equals the model digest deployed (a VSA of another
                       model or version)
3. ``predicateType``   it is a VSA (another kind of signed statement passed off as one)
4. ``verifier``        ``verifier.id`` is the verifier this key speaks for
5. ``resourceUri``     it is about the expected registry resource (and matches its subject)
6. ``result``          ``verificationResult`` is ``PASSED`` (a logged denial is no approval)
7. ``levels``          every expected level is in ``verifiedLevels``
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ordinance import uris
from ordinance.errors import InputError, NotFoundError, VerificationError
from ordinance.signing import (
    PAYLOAD_TYPE_INTOTO,
    Envelope,
    VerifierKey,
    parse_vkey,
    verify_envelope,
)

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = [
    "AttestationCheck",
    "AttestationReport",
    "attestation",
    "latest_decision_index",
    "verify_attestation",
]

CHECKS = (
    "signature",
    "subject",
    "predicateType",
    "verifier",
    "resourceUri",
    "result",
    "levels",
)


def latest_decision_index(ws: Workspace, model: str, version: str) -> int:
    """The log index of the VSA of the newest promotion decision (allowed or denied)."""
    for t in reversed(ws.registry().transitions(model)):
        if t.version != version or t.kind in ("demote", "aborted"):
            continue
        index = t.details.get("evaluationLogIndex")
        if isinstance(index, int):
            return index
    raise NotFoundError(
        f"{model}@{version} has no promotion decision with a policy evaluation to attest "
        "(run `ordinance promote` first)"
    )


def attestation(ws: Workspace, model: str, version: str) -> bytes:
    """The DSSE envelope (bytes, as logged) of the latest promotion decision's VSA."""
    index = latest_decision_index(ws, model, version)
    entry = ws.log_reader().verified_entries([index])[index]
    if entry.predicate_type != uris.VSA:
        raise VerificationError(f"log entry {index} is not a VSA", index=index)
    return entry.envelope


@dataclass(frozen=True)
class AttestationCheck:
    name: str
    ok: bool | None  # None: not checked (an earlier check failed, or nothing to compare)
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class AttestationReport:
    """Every consumer check with its outcome; ``ok`` only when none failed."""

    checks: tuple[AttestationCheck, ...]
    statement: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks) and self.statement is not None

    @property
    def failure(self) -> AttestationCheck | None:
        return next((c for c in self.checks if c.ok is False), None)

    def to_dict(self) -> dict[str, Any]:
        pred = (self.statement or {}).get("predicate") or {}
        return {
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "subject": (self.statement or {}).get("subject"),
            "resourceUri": pred.get("resourceUri"),
            "verificationResult": pred.get("verificationResult"),
            "verifiedLevels": pred.get("verifiedLevels"),
            "timeVerified": pred.get("timeVerified"),
        }

    def raise_for_failure(self) -> None:
        bad = self.failure
        if bad is not None:
            raise VerificationError(f"attestation check {bad.name} failed: {bad.detail}")


def _finish(done: list[AttestationCheck], stmt: dict[str, Any] | None) -> AttestationReport:
    names = {c.name for c in done}
    rest = [AttestationCheck(n, None, "not checked") for n in CHECKS if n not in names]
    return AttestationReport(tuple(done + rest), stmt)


def verify_attestation(
    envelope: bytes,
    vkey: str | VerifierKey,
    *,
    model_digest: str | None = None,
    expect_levels: Sequence[str] = (),
    resource_uri: str | None = None,
    verifier_id: str = uris.VERIFIER_ID,
) -> AttestationReport:
    """Run the consumer checks in order; never raises for a bad attestation (see the report),
    only for unusable arguments (a malformed vkey)."""
    key = vkey if isinstance(vkey, VerifierKey) else parse_vkey(vkey)
    done: list[AttestationCheck] = []
    try:
        env = Envelope.from_bytes(envelope)
        payload = verify_envelope(env, [key], payload_type=PAYLOAD_TYPE_INTOTO)
        stmt = json.loads(payload)
        if not isinstance(stmt, dict):
            raise InputError("the payload is not a JSON object")
    except (InputError, VerificationError, ValueError, UnicodeDecodeError) as exc:
        msg = exc.message if isinstance(exc, InputError | VerificationError) else str(exc)
        done.append(AttestationCheck("signature", False, msg))
        return _finish(done, None)
    done.append(AttestationCheck("signature", True, f"signed by {key.name}+{key.key_id}"))

    subjects = [s for s in stmt.get("subject") or [] if isinstance(s, dict)]
    digests = [str((s.get("digest") or {}).get("sha256")) for s in subjects]
    if model_digest is None:
        done.append(AttestationCheck("subject", None, "no --model-digest given: not compared"))
    elif model_digest.lower() in digests:
        done.append(AttestationCheck("subject", True, f"sha256:{model_digest.lower()}"))
    else:
        done.append(
            AttestationCheck(
                "subject", False, f"subject digests {digests} do not include {model_digest}"
            )
        )
        return _finish(done, stmt)

    ptype = stmt.get("predicateType")
    if ptype != uris.VSA:
        done.append(AttestationCheck("predicateType", False, f"{ptype!r} is not a VSA"))
        return _finish(done, stmt)
    done.append(AttestationCheck("predicateType", True, uris.VSA))

    pred = stmt.get("predicate") if isinstance(stmt.get("predicate"), dict) else {}
    assert isinstance(pred, dict)
    vid = (pred.get("verifier") or {}).get("id") if isinstance(pred.get("verifier"), dict) else None
    if vid != verifier_id:
        done.append(AttestationCheck("verifier", False, f"verifier {vid!r}, want {verifier_id}"))
        return _finish(done, stmt)
    done.append(AttestationCheck("verifier", True, str(vid)))

    uri = pred.get("resourceUri")
    names = [str(s.get("name", "")) for s in subjects]
    implied = {f"models:/{n.replace('@', '/', 1)}" for n in names if "@" in n}
    if not isinstance(uri, str) or (implied and uri not in implied):
        done.append(
            AttestationCheck("resourceUri", False, f"{uri!r} does not name the subject {names}")
        )
        return _finish(done, stmt)
    if resource_uri is not None and uri != resource_uri:
        done.append(AttestationCheck("resourceUri", False, f"{uri!r}, want {resource_uri!r}"))
        return _finish(done, stmt)
    done.append(AttestationCheck("resourceUri", True, uri))

    result = pred.get("verificationResult")
    if result != "PASSED":
        done.append(AttestationCheck("result", False, f"verificationResult is {result!r}"))
        return _finish(done, stmt)
    done.append(AttestationCheck("result", True, "PASSED"))

    levels = pred.get("verifiedLevels") or []
    missing = [lv for lv in expect_levels if lv not in levels]
    if missing:
        done.append(
            AttestationCheck("levels", False, f"missing {missing}; verified {list(levels)}")
        )
        return _finish(done, stmt)
    done.append(
        AttestationCheck(
            "levels",
            True if expect_levels else None,
            f"verified {list(levels)}" + ("" if expect_levels else " (none expected)"),
        )
    )
    return _finish(done, stmt)

"""in-toto Statements for the audit log: what each kind of entry says.

Every entry's subject is the model identity (the model-signing root digest) named
``<model>@<version>``; the predicate type says what happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ordinance._canonical import canonical_json, sha256_hex
from ordinance.model import ModelVersion

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

from ordinance.uris import (
    APPROVAL,
    BASE,
    EVIDENCE,
    KEY_CHANGE,
    REGISTRATION,
    ROSTER_CHANGE,
    STATEMENT_TYPE,
    TRANSITION,
    VERIFIER_ID,
    VSA,
    WAIVER,
)

__all__ = [
    "APPROVAL",
    "BASE",
    "EVIDENCE",
    "KEY_CHANGE",
    "REGISTRATION",
    "ROSTER_CHANGE",
    "STATEMENT_TYPE",
    "TRANSITION",
    "VERIFIER_ID",
    "VSA",
    "WAIVER",
]


def _ts(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def subject(version: ModelVersion) -> list[dict[str, Any]]:
    return [{"name": version.ref, "digest": {"sha256": version.identity.sha256}}]


def statement(
    version: ModelVersion, predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject(version),
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def resource_uri(version: ModelVersion) -> str:
    return f"models:/{version.model.name}/{version.version}"


def registration(version: ModelVersion, model_signing_statement: dict[str, Any]) -> dict[str, Any]:
    """A version was registered: its facts, evidence digests and model-signing manifest digest."""
    return statement(
        version,
        REGISTRATION,
        {
            "model": version.model.model_dump(mode="json"),
            "version": version.version,
            "stage": version.stage,
            "author": version.author,
            "createdAt": _ts(version.created_at),
            "registeredAt": _ts(version.registered_at),
            "identity": version.identity.model_dump(mode="json"),
            "modelSigningStatementDigest": {
                "sha256": sha256_hex(canonical_json(model_signing_statement))
            },
            "manifest": {"sha256": version.manifest_sha256},
            "lineage": version.lineage.model_dump(mode="json"),
            "metrics": dict(version.metrics),
            "documentation": {"sha256": sha256_hex(canonical_json(version.documentation))},
            "evidence": [
                {"kind": e.kind, "name": e.name, "digest": {"sha256": e.sha256}, "size": e.size}
                for e in version.evidence
            ],
        },
    )


def evidence_added(
    version: ModelVersion, items: list[dict[str, Any]], actor: str
) -> dict[str, Any]:
    """Evidence attached to a version after its registration."""
    return statement(
        version, EVIDENCE, {"version": version.version, "actor": actor, "evidence": items}
    )


def evaluation(ws: Workspace | None, ev: Any) -> dict[str, Any]:
    """A policy evaluation as a SLSA Verification Summary Attestation."""
    version: ModelVersion = ev.version
    predicate = ev.to_vsa_predicate(VERIFIER_ID, resource_uri(version))
    return statement(version, VSA, predicate)


def transition(
    version: ModelVersion,
    *,
    from_stage: str | None,
    to_stage: str,
    actor: str,
    at: datetime,
    kind: str,
    reason: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    return statement(
        version,
        TRANSITION,
        {
            "kind": kind,
            "fromStage": from_stage,
            "toStage": to_stage,
            "actor": actor,
            "at": _ts(at),
            "reason": reason,
            **details,
        },
    )

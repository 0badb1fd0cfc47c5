"""Ordinance's signed, append-only audit log: a transparency log of DSSE/in-toto entries.

Entries are DSSE envelopes (stored bytes are the Merkle leaf input), the tree is RFC 6962
SHA-256, every append batch gets a C2SP tlog-checkpoint signed with the log's Ed25519 key,
witnesses add C2SP cosignatures, and single entries get C2SP tlog-proof receipts. An auditor
needs only the log's vkey (see docs/log-format.md).
"""

from ordinance.log.bundle import export_bundle, verify_bundle
from ordinance.log.dsse import (
    PAYLOAD_TYPE_INTOTO,
    PREDICATE_APPROVAL,
    PREDICATE_KEY_CHANGE,
    PREDICATE_REGISTRATION,
    PREDICATE_ROSTER_CHANGE,
    PREDICATE_TRANSITION,
    PREDICATE_VSA,
    PREDICATE_WAIVER,
    STATEMENT_TYPE,
    make_statement,
    sign_statement,
)
from ordinance.log.entries import LogEntry
from ordinance.log.note import Checkpoint, NoteSignature, SignedNote, cosign, sign_note, verify_note
from ordinance.log.proof import TlogProof, verify_tlog_proof
from ordinance.log.schema import create_schema
from ordinance.log.store import TransparencyLog, open_log
from ordinance.log.verify import VerifyReport

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
    "Checkpoint",
    "LogEntry",
    "NoteSignature",
    "SignedNote",
    "TlogProof",
    "TransparencyLog",
    "VerifyReport",
    "cosign",
    "create_schema",
    "export_bundle",
    "make_statement",
    "open_log",
    "sign_note",
    "sign_statement",
    "verify_bundle",
    "verify_note",
    "verify_tlog_proof",
]

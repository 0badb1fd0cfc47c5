"""Log entries: the exact envelope bytes and what the log indexes about them (predicate
type, subject, time), and the checks an envelope passes before it is appended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ordinance._bounds import check_time
from ordinance.errors import InputError, VerificationError
from ordinance.log import merkle
from ordinance.log.dsse import Envelope, StatementInfo, statement_info
from ordinance.signing import VerifierKey, parse_vkey

__all__ = ["LogEntry"]

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _ts(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime(_TS_FORMAT)


def _parse_ts(s: str) -> datetime:
    return datetime.strptime(s, _TS_FORMAT).replace(tzinfo=UTC)


def _since_ts(since: datetime | date | str) -> str:
    if isinstance(since, str):
        try:
            since = datetime.fromisoformat(since.replace("Z", "+00:00"))
            check_time(since)
        except ValueError as exc:
            why = str(exc) if "year must be" in str(exc) else "use ISO 8601, e.g. 2025-01-31"
            raise InputError(f"bad date {since!r}: {why}") from None
    if not isinstance(since, datetime):
        since = datetime(since.year, since.month, since.day, tzinfo=UTC)
    return _ts(since)


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class LogEntry:
    """One log entry: the exact envelope bytes and what the log indexed about them."""

    index: int
    envelope: bytes
    statement: dict[str, Any]
    predicate_type: str
    subject_name: str
    subject_digest: str
    logged_at: datetime

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.envelope)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "logged_at": _ts(self.logged_at),
            "predicate_type": self.predicate_type,
            "subject": {"name": self.subject_name, "digest": self.subject_digest},
            "leaf_hash": self.leaf_hash.hex(),
            "statement": self.statement,
        }


def _entry_from_row(row: Any) -> LogEntry:
    env = bytes(row.envelope)
    info = statement_info(Envelope.from_bytes(env))
    return LogEntry(
        index=int(row.idx),
        envelope=env,
        statement=info.statement,
        predicate_type=row.predicate_type,
        subject_name=row.subject_name,
        subject_digest=row.subject_digest,
        logged_at=_parse_ts(row.logged_at),
    )


def _prepare(envelope: bytes) -> StatementInfo:
    if b"\n" in envelope or b"\r" in envelope:
        raise InputError("log entries must be single-line envelope JSON (no raw newlines)")
    return statement_info(Envelope.from_bytes(envelope))


def _columns(info: StatementInfo) -> tuple[str, str, str]:
    return info.predicate_type, info.subject_name, info.subject_digest


def _plain_columns(stmt: dict[str, Any]) -> tuple[str, str, str] | None:
    """(predicate type, subject name, subject digest) of a checked statement, if all plain str.

    Same values as :func:`statement_info` on the signed payload; ``None`` for anything
    unusual (non-str name, no sha256 digest), which then goes through the envelope.
    """
    ptype = stmt.get("predicateType")
    first = stmt["subject"][0]
    name = first.get("name")
    digest = first["digest"].get("sha256")
    if type(ptype) is str and type(name) is str and name and type(digest) is str:
        return ptype, name, digest
    return None


def _learn_key(envelope: bytes, vkeys: list[str], own: Sequence[VerifierKey]) -> None:
    """Trust the new key of a key-change entry signed by a key already trusted."""
    from ordinance.signing import verify_envelope

    try:
        info = statement_info(Envelope.from_bytes(envelope))
        old = str(info.statement["predicate"]["old_vkey"])
        new = str(info.statement["predicate"]["new_vkey"])
        trusted = {k.vkey for k in own} | set(vkeys)
        if old in trusted and new not in trusted:
            verify_envelope(Envelope.from_bytes(envelope), [parse_vkey(old)])
            vkeys.append(new)
    except (InputError, VerificationError, KeyError, TypeError):
        return

"""Typed records: every predicate reads back to the same value, unknown fields survive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import small_manifest
from ordinance import records, uris
from ordinance.errors import InputError
from ordinance.workspace import init_workspace

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
S = records.Subject("m@1", "ab" * 32)

SAMPLES: list[records.Record] = [
    records.EvidenceAdded(
        subject=S, version="1", actor="ci", evidence=(records.EvidenceItem("k", "n", "cd" * 32, 3),)
    ),
    records.ApprovalStatement(
        subject=S,
        approver="vera",
        model="m",
        version="1",
        stage="production",
        identity_sha256=S.sha256,
        policies={"baseline": "ef" * 32},
        signed_at=T0,
        expires_at=None,
        comment="ok",
    ),
    records.DeclineStatement(
        subject=S,
        approver="rita",
        model="m",
        version="1",
        stage="production",
        identity_sha256=S.sha256,
        policies={"baseline": "ef" * 32},
        signed_at=T0,
        reason="the fairness gap is not explained",
    ),
    records.WaiverStatement(
        subject=S,
        id="W-1",
        rule="fairness",
        model="m",
        version="1",
        stages=("production",),
        justification="a long enough reason",
        approver="rita",
        signed_at=T0,
        expires_at=T0,
    ),
    records.WaiverRequest(
        subject=S,
        requester="alice",
        model="m",
        version="1",
        rule="fairness",
        stages=("production",),
        justification="a long enough reason",
        expires_at=T0,
        requested_at=T0,
    ),
    records.WaiverRequestDeclined(
        subject=S,
        request_sha256="04" * 32,
        reviewer="rita",
        reason="fix the model instead",
        declined_at=T0,
    ),
    records.ApprovalRefusal(
        subject=S,
        kind="approval",
        reason="unknown key",
        claimed={"model": "m"},
        envelope_sha256="01" * 32,
        refused_at=T0,
    ),
    records.Revocation(
        subject=S,
        revokes_sha256="02" * 32,
        revokes_kind="approval",
        revoker="vera",
        reason="",
        revoked_at=T0,
    ),
    records.RosterChange(
        subject=records.Subject(records.ROSTER_SUBJECT, "03" * 32),
        roster_sha256="03" * 32,
        previous_sha256=None,
        roster={"members": []},
        diff={},
        actor="ops",
        applied_at=T0,
    ),
    records.KeyChange(subject=S, old_vkey="a", new_vkey="b", reason="", actor="x", time=T0),
    records.Transition(
        subject=S,
        kind="promote",
        from_stage="development",
        to_stage="staging",
        actor="ci",
        at=T0,
        reason="allowed",
        extra={"verdict": "pass"},
    ),
]


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_round_trip(record: records.Record) -> None:
    stmt = record.to_statement()
    assert stmt["predicateType"] == type(record).PREDICATE_TYPE
    back = records.parse_record(stmt)
    assert back == record
    assert back.to_statement() == stmt


def test_unknown_fields_are_kept() -> None:
    stmt = SAMPLES[0].to_statement()
    stmt["predicate"]["futureField"] = [1, 2]
    back = records.parse_record(stmt)
    assert back.extra == {"futureField": [1, 2]}
    assert back.to_statement() == stmt


def test_wrong_or_unknown_type_is_refused() -> None:
    stmt = SAMPLES[0].to_statement()
    with pytest.raises(InputError, match="is not"):
        records.Transition.from_statement(stmt)
    stmt["predicateType"] = "https://example.com/other"
    with pytest.raises(InputError, match="unknown predicate type"):
        records.parse_record(stmt)


def test_predicate_types_come_from_uris() -> None:
    for cls in records._BY_TYPE.values():
        assert cls.PREDICATE_TYPE in vars(uris).values()


def test_registration_entry_reads_back(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / ".ordinance")
    try:
        res = ws.register(small_manifest(tmp_path / "m"), now=T0)
        assert res.log_index is not None
        entry = ws.audit_log().entry(res.log_index)
        rec = records.parse_record(entry.statement)
        assert isinstance(rec, records.Registration)
        assert rec.version == res.version.version
        assert rec.subject == records.Subject.of(res.version)
        assert rec.to_statement() == entry.statement
    finally:
        ws.close()

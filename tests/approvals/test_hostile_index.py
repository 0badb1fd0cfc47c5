"""A hostile database: someone who can write the index tables but cannot sign log entries.

On PostgreSQL every attack runs as the documented least-privilege application role
(``SELECT, INSERT`` on the log tables, read/write on the index tables). Every insert, update
and delete in every index table is either ignored by decisions or blocked with exit 1
(:class:`IndexMismatch`) naming the row or the entry; no attack changes an outcome, and no
listing or report shows a tampered fact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from approvals_support import DAY, HOUR, T0, People
from sqlalchemy import text

from helpers import run_cli, small_manifest
from ordinance import promote
from ordinance.approvals import (
    approve,
    collect_approvals,
    collect_waivers,
    current_roster,
    revoke,
    waive,
)
from ordinance.errors import VerificationError
from ordinance.ledger import IndexMismatch
from ordinance.workspace import Workspace

APP_ROLE = "ordinance_app_hostile_test"
LOG_TABLES = (
    "ordinance_log_entry",
    "ordinance_log_node",
    "ordinance_log_checkpoint",
    "ordinance_log_cosignature",
)
INDEX_TABLES = (
    "ordinance_model",
    "ordinance_version",
    "ordinance_evidence",
    "ordinance_evaluation",
    "ordinance_transition",
    "ordinance_approval",
    "ordinance_approval_revocation",
    "ordinance_roster_version",
)


def _grant_app_role(ws: Workspace) -> None:
    """The role of docs/audit-log.md: insert and read the log, read/write the index."""
    with ws.engine().begin() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
        ).first()
        if exists is None:
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(f"CREATE ROLE {APP_ROLE} NOLOGIN")
            except Exception:  # created concurrently by another test run
                pass
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {APP_ROLE}')
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON {', '.join(LOG_TABLES)} TO {APP_ROLE}")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(INDEX_TABLES)} TO {APP_ROLE}"
        )
        conn.exec_driver_sql(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {APP_ROLE}')


def attack(ws: Workspace, sql: str, **params: Any) -> None:
    """Run ``sql`` as the attacker: the application role on PostgreSQL, the file on SQLite."""
    with ws.engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            _grant_app_role(ws)
            conn.exec_driver_sql(f"SET LOCAL ROLE {APP_ROLE}")
        conn.execute(text(sql), params)


def _one(ws: Workspace, sql: str, **params: Any) -> Any:
    with ws.engine().connect() as conn:
        return conn.execute(text(sql), params).first()


def _blocked(call: Callable[[], object], *words: str) -> IndexMismatch:
    with pytest.raises(IndexMismatch) as exc:
        call()
    assert exc.value.exit_code == 1
    for w in words:
        assert w in exc.value.message, exc.value.message
    return exc.value


def _approve_both(ws: Workspace, people: People, version: str = "1.0.0") -> None:
    approve(ws, "toy", version, "production", people.vera, now=T0 + HOUR)
    approve(ws, "toy", version, "production", people.rita, now=T0 + HOUR)


# --------------------------------------------------------------------------- the named cases


def test_app_role_cannot_touch_the_log(ws: Workspace) -> None:
    if ws.engine().dialect.name != "postgresql":
        pytest.skip("the least-privilege role is a PostgreSQL feature")
    from sqlalchemy.exc import ProgrammingError

    with pytest.raises(ProgrammingError, match="permission denied"):
        attack(ws, "UPDATE ordinance_log_entry SET subject_name = 'x' WHERE idx = 0")


def test_unlogged_roster_row_cannot_make_an_outsider_risk_officer(
    ws: Workspace, people: People
) -> None:
    roster = people.roster()
    from ordinance.approvals import Member, Roster

    evil = Roster(
        (
            *roster.members,
            Member(
                id="mallory@example.com",
                roles=frozenset({"risk-officer", "model-validator"}),
                keys=(people.mallory.verifier,),
            ),
        )
    )
    attack(
        ws,
        "INSERT INTO ordinance_roster_version (applied_at, digest, document, diff, actor, "
        "log_index) VALUES (:at, :d, :doc, '{}', 'admin', NULL)",
        at="2026-03-02T09:30:00.000000Z",
        d=evil.digest,
        doc=json.dumps(evil.to_dict(), sort_keys=True),
    )
    _blocked(lambda: current_roster(ws), "ordinance_roster_version#", "bound to no log entry")
    _blocked(
        lambda: approve(ws, "toy", "1.0.0", "production", people.mallory, now=T0 + HOUR),
        "ordinance_roster_version#",
    )
    # no approval is on record, so no roster lookup happens: the attack changes nothing
    assert not promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR).allowed
    assert _one(ws, "SELECT stage FROM ordinance_version WHERE version = '1.0.0'")[0] == (
        "development"
    )


def test_roster_row_bound_to_the_real_entry_but_rewritten_is_refused(
    ws: Workspace, people: People
) -> None:
    from ordinance.approvals import Member, Roster

    evil = Roster(
        (
            *people.roster().members,
            Member(
                id="mallory@example.com",
                roles=frozenset({"risk-officer"}),
                keys=(people.mallory.verifier,),
            ),
        )
    )
    attack(
        ws,
        "UPDATE ordinance_roster_version SET document = :doc, digest = :d",
        doc=json.dumps(evil.to_dict(), sort_keys=True),
        d=evil.digest,
    )
    err = _blocked(lambda: current_roster(ws), "disagrees with log entry", "digest")
    assert err.index is not None


def test_deleted_revocation_rows_do_not_bring_approvals_back(ws: Workspace, people: People) -> None:
    _approve_both(ws, people)
    [digest] = [
        r[0]
        for r in [
            _one(
                ws,
                "SELECT digest FROM ordinance_approval WHERE approver = 'vera@example.com'",
            )
        ]
    ]
    revoke(ws, digest, people.vera, reason="changed my mind", now=T0 + HOUR)
    before = promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)
    assert not before.allowed
    attack(ws, "DELETE FROM ordinance_approval_revocation")
    err = _blocked(
        lambda: promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * HOUR),
        "revocation",
        "has no row in ordinance_approval_revocation",
    )
    assert err.index is not None
    assert _one(ws, "SELECT stage FROM ordinance_version WHERE version = '1.0.0'")[0] == (
        "development"
    )


def test_predictions_digest_pointed_at_another_versions_table(
    ws: Workspace, people: People, tmp_path: Path
) -> None:
    # toy@4.0.0's prediction table is a different (fairer-looking) one
    manifest = small_manifest(tmp_path / "v4", version="4.0.0")
    (manifest.parent / "preds.csv").write_text("y,yhat,sex\n1,1,f\n0,0,m\n1,1,m\n0,0,f\n")
    ws.register(manifest, now=T0 + HOUR)
    other = _one(
        ws,
        "SELECT e.sha256 FROM ordinance_evidence e JOIN ordinance_version v "
        "ON v.id = e.version_id WHERE v.version = '4.0.0' AND e.kind = 'predictions'",
    )[0]
    attack(
        ws,
        "UPDATE ordinance_evidence SET sha256 = :s WHERE kind = 'predictions' AND version_id = "
        "(SELECT id FROM ordinance_version WHERE version = '1.0.0')",
        s=other,
    )
    _blocked(
        lambda: ws.registry().get_version("toy", "1.0.0"),
        "ordinance_evidence#",
        "predictions",
        "disagrees with log entry",
        "sha256",
    )
    result = run_cli("--home", ws.home, "check", "toy@1.0.0", "--stage", "production")
    assert result.code == 1, result.err
    assert "ordinance_evidence#" in result.err


def test_rewritten_author_cannot_defeat_separation_of_duties(ws: Workspace, people: People) -> None:
    # alice is the author (and a validator): her approval does not count for her own version
    approve(ws, "toy", "1.0.0", "production", people.alice, now=T0 + HOUR)
    approve(ws, "toy", "1.0.0", "production", people.rita, now=T0 + HOUR)
    assert not promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR).allowed
    attack(ws, "UPDATE ordinance_version SET author = 'someone-else@example.com'")
    _blocked(
        lambda: promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 3 * HOUR),
        "ordinance_version#",
        "author",
    )


def test_a_deleted_version_row_is_detected_not_unknown(ws: Workspace) -> None:
    attack(
        ws,
        "DELETE FROM ordinance_evidence WHERE version_id = "
        "(SELECT id FROM ordinance_version WHERE version = '2.0.0')",
    )
    attack(ws, "DELETE FROM ordinance_version WHERE version = '2.0.0'")
    _blocked(lambda: ws.registry().get_version("toy", "2.0.0"), "registration of toy@2.0.0")
    result = run_cli("--home", ws.home, "promote", "toy@2.0.0", "--to", "staging")
    assert result.code == 1, result.err
    assert "has no row in ordinance_version" in result.err


def test_risk_tier_is_per_version(ws: Workspace) -> None:
    attack(ws, "UPDATE ordinance_model SET risk_tier = 'minimal'")
    assert ws.registry().get_version("toy", "1.0.0").model.risk_tier == "high"


# --------------------------------------------------------------------------- every table


def _versions(ws: Workspace) -> object:
    return ws.registry().list_versions("toy")


def _transitions(ws: Workspace) -> object:
    return ws.registry().transitions("toy")


def _evaluations(ws: Workspace) -> object:
    return ws.registry().evaluations("toy", "1.0.0")


def _approvals(ws: Workspace) -> object:
    return collect_approvals(ws, ws.registry().get_version("toy", "1.0.0"), "production", T0 + DAY)


def _waivers(ws: Workspace) -> object:
    return collect_waivers(ws, ws.registry().get_version("toy", "1.0.0"), T0 + DAY)


def _roster(ws: Workspace) -> object:
    return current_roster(ws)


def _revocations(ws: Workspace) -> object:
    v = ws.registry().get_version("toy", "1.0.0")
    return collect_approvals(ws, v, "staging", T0 + DAY)


def _waivers2(ws: Workspace) -> object:
    return collect_waivers(ws, ws.registry().get_version("toy", "2.0.0"), T0 + DAY)


def _setup(ws: Workspace, people: People) -> None:
    """Facts in every table: approvals, a waiver, a revocation, an evaluation, transitions."""
    _approve_both(ws, people)
    approve(ws, "toy", "1.0.0", "staging", people.vera, now=T0 + HOUR)
    waive(
        ws,
        "toy",
        "1.0.0",
        "prod-gate/auc-floor",
        "accepted for the pilot only, see ticket 42",
        T0 + 30 * DAY,
        people.rita,
        now=T0 + HOUR,
    )
    staging = _one(ws, "SELECT digest FROM ordinance_approval WHERE stage = 'staging'")
    revoke(ws, staging[0], people.vera, reason="wrong stage", now=T0 + HOUR)
    promote(ws, "toy", "1.0.0", "staging", "ci", now=T0 + 2 * HOUR)


CASES: list[tuple[str, str, Callable[[Workspace], object], str]] = [
    # (id, attack SQL, the read that must refuse it, a word the refusal names)
    (
        "version-update",
        "UPDATE ordinance_version SET metrics = '{\"auc\": 0.99}'",
        _versions,
        "metrics",
    ),
    ("version-tier", "UPDATE ordinance_version SET risk_tier = 'minimal'", _versions, "risk_tier"),
    ("version-stage", "UPDATE ordinance_version SET stage = 'production'", _versions, "stage"),
    (
        "version-delete",
        "DELETE FROM ordinance_evidence WHERE version_id = (SELECT id FROM ordinance_version WHERE version = '3.0.0'); DELETE FROM ordinance_version WHERE version = '3.0.0'",
        _versions,
        "has no row",
    ),
    (
        "version-insert",
        "INSERT INTO ordinance_version (model_name, version, stage, author, created_at, registered_at, identity_sha256, identity, lineage, metrics, documentation, manifest_sha256) SELECT model_name, '9.9.9', stage, author, created_at, registered_at, identity_sha256, identity, lineage, metrics, documentation, manifest_sha256 FROM ordinance_version WHERE version = '1.0.0'",
        _versions,
        "bound to no log entry",
    ),
    (
        "evidence-update",
        'UPDATE ordinance_evidence SET attributes = \'{"y_true": "yhat", "y_pred": "y", "sensitive": []}\' WHERE kind = \'predictions\'',
        _versions,
        "attributes",
    ),
    (
        "evidence-delete",
        "DELETE FROM ordinance_evidence WHERE kind = 'datasheet'",
        _versions,
        "has no row",
    ),
    (
        "evidence-insert",
        "INSERT INTO ordinance_evidence (version_id, kind, name, sha256, size, media_type, created_at, attributes, description) SELECT version_id, 'validation', 'forged.json', sha256, size, media_type, created_at, attributes, description FROM ordinance_evidence WHERE kind = 'datasheet'",
        _versions,
        "bound to no log entry",
    ),
    (
        "transition-update",
        "UPDATE ordinance_transition SET actor = 'mallory'",
        _transitions,
        "actor",
    ),
    ("transition-delete", "DELETE FROM ordinance_transition", _transitions, "has no row"),
    (
        "transition-insert",
        "INSERT INTO ordinance_transition (model_name, version, from_stage, to_stage, actor, at, kind, reason, details) SELECT model_name, version, 'staging', 'production', actor, at, 'promote', reason, details FROM ordinance_transition",
        _transitions,
        "bound to no log entry",
    ),
    (
        "evaluation-update",
        "UPDATE ordinance_evaluation SET verdict = 'pass', result = '{\"verdict\": \"pass\"}'",
        _evaluations,
        "verdict",
    ),
    ("evaluation-delete", "DELETE FROM ordinance_evaluation", _evaluations, "has no row"),
    (
        "evaluation-insert",
        "INSERT INTO ordinance_evaluation (version_id, stage, verdict, evaluated_at, policy_digests, result) SELECT version_id, 'production', 'pass', evaluated_at, policy_digests, result FROM ordinance_evaluation",
        _evaluations,
        "bound to no log entry",
    ),
    (
        "approval-update",
        "UPDATE ordinance_approval SET stage = 'staging' WHERE kind = 'approval'",
        _approvals,
        "stage",
    ),
    (
        "approval-delete",
        "DELETE FROM ordinance_approval WHERE approver = 'vera@example.com'",
        _approvals,
        "has no row",
    ),
    (
        "approval-insert",
        "INSERT INTO ordinance_approval (kind, digest, model_name, version, stage, rule, approver, key_id, signed_at, recorded_at, expires_at, envelope, log_index) SELECT kind, 'f' || substr(digest, 2), model_name, version, stage, rule, approver, key_id, signed_at, recorded_at, expires_at, envelope, NULL FROM ordinance_approval WHERE approver = 'vera@example.com'",
        _approvals,
        "bound to no log entry",
    ),
    (
        "approval-recorded-at",
        "UPDATE ordinance_approval SET recorded_at = '2026-03-01T00:00:00.000000Z' WHERE approver = 'rita@example.com'",
        _approvals,
        "recorded_at",
    ),
    (
        "waiver-update",
        "UPDATE ordinance_approval SET rule = 'prod-gate/two-approvals' WHERE kind = 'waiver'",
        _waivers,
        "rule",
    ),
    (
        "waiver-delete",
        "DELETE FROM ordinance_approval WHERE kind = 'waiver'",
        _waivers,
        "has no row",
    ),
    (
        "waiver-insert",
        "INSERT INTO ordinance_approval (kind, digest, model_name, version, stage, rule, approver, key_id, signed_at, recorded_at, expires_at, envelope, log_index) SELECT kind, 'e' || substr(digest, 2), model_name, '2.0.0', stage, rule, approver, key_id, signed_at, recorded_at, expires_at, envelope, log_index FROM ordinance_approval WHERE kind = 'waiver'",
        _waivers2,
        "which does not record it",
    ),
    (
        "revocation-update",
        "UPDATE ordinance_approval_revocation SET approval_digest = 'ab' || substr(approval_digest, 3)",
        _revocations,
        "approval_digest",
    ),
    ("revocation-delete", "DELETE FROM ordinance_approval_revocation", _revocations, "has no row"),
    (
        "revocation-insert",
        "INSERT INTO ordinance_approval_revocation (approval_digest, revoker, reason, revoked_at, envelope, log_index) SELECT digest, 'rita@example.com', 'x', signed_at, envelope, NULL FROM ordinance_approval WHERE approver = 'rita@example.com'",
        _revocations,
        "bound to no log entry",
    ),
    ("roster-update", "UPDATE ordinance_roster_version SET actor = 'mallory'", _roster, "actor"),
    ("roster-delete", "DELETE FROM ordinance_roster_version", _roster, "has no row"),
    (
        "roster-insert",
        "INSERT INTO ordinance_roster_version (applied_at, digest, document, diff, actor, log_index, entry_sha256) SELECT '2026-03-02T09:30:00.000000Z', digest, document, diff, actor, log_index, entry_sha256 FROM ordinance_roster_version",
        _roster,
        "ordinance_roster_version#",
    ),
]


@pytest.mark.parametrize(("sql", "read", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_index_table(
    ws: Workspace, people: People, sql: str, read: Callable[[Workspace], object], word: str
) -> None:
    _setup(ws, people)
    read(ws)  # untampered: reads fine
    for statement in sql.split("; "):
        attack(ws, statement)
    err = _blocked(lambda: read(ws), word)
    assert isinstance(err, VerificationError)


def test_listings_never_show_tampered_facts(ws: Workspace, people: People, tmp_path: Path) -> None:
    _setup(ws, people)
    ok = run_cli("--home", ws.home, "models", "--format", "json")
    assert ok.code == 0, ok.err
    attack(ws, "UPDATE ordinance_version SET author = 'mallory' WHERE version = '2.0.0'")
    for args in (
        ("models", "--format", "json"),
        ("show", "toy@2.0.0", "--format", "json"),
        ("history", "toy", "--format", "json"),
        ("history", "toy", "--at", "2026-03-03", "--format", "json"),
        ("card", "toy@2.0.0", "--format", "json"),
        ("report", "toy@2.0.0", "--format", "json"),
        ("report", "portfolio", "--format", "json"),
        ("publish", "--out", str(tmp_path / "site")),
    ):
        result = run_cli("--home", ws.home, *args)
        assert result.code == 1, (args, result.out, result.err)
        assert "mallory" not in result.out
        assert "ordinance_version#" in result.err
    assert not list((tmp_path / "site").rglob("*.html"))


# --------------------------------------------------------------------------- rewritten history


def _rewrite_entry(ws: Workspace, index: int) -> None:
    """A database owner rewrites a log entry (triggers dropped): not the app role's power."""
    from ordinance.log.dsse import make_statement, sign_statement
    from ordinance.signing import Ed25519Signer

    forged = sign_statement(
        make_statement("toy@1.0.0", "0" * 64, "https://example.com/forged/v1", {"x": 1}),
        [Ed25519Signer.from_seed(b"\x0b" * 32, "mallory")],
    )
    with ws.engine().begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS ordinance_log_entry_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE ordinance_log_entry DISABLE TRIGGER USER")
        conn.execute(
            text("UPDATE ordinance_log_entry SET envelope = :e WHERE idx = :i"),
            {"e": forged, "i": index},
        )


def test_promote_never_signs_over_a_rewritten_history(ws: Workspace, people: People) -> None:
    _approve_both(ws, people)
    size = ws.audit_log().size()
    # a fresh runner (no trusted head yet) must verify everything before appending
    ws.trusted_head_path.unlink(missing_ok=True)
    _rewrite_entry(ws, 1)
    result = run_cli("--home", ws.home, "promote", "toy@1.0.0", "--to", "staging")
    assert result.code == 1, result.err
    assert "entry 1" in result.err
    assert ws.audit_log().size() == size


def test_an_entry_rewritten_after_verification_is_caught_when_read(
    ws: Workspace, people: People
) -> None:
    _approve_both(ws, people)
    ws.audit_log().trusted_head()  # verified up to here
    [reg] = [
        e.index
        for e in ws.log_reader().verified_entries_about(subject="toy@2.0.0")
        if e.predicate_type.endswith("/registration/v1")
    ]
    _rewrite_entry(ws, reg)
    fresh = Workspace.open(ws.home, db_url=ws.db_url)
    try:
        with pytest.raises(VerificationError, match=f"entry {reg} was edited"):
            fresh.registry().get_version("toy", "2.0.0")
        result = run_cli("--home", ws.home, "promote", "toy@2.0.0", "--to", "staging")
        assert result.code == 1 and f"entry {reg}" in result.err, result.err
    finally:
        fresh.close()
    verify = run_cli("--home", ws.home, "log", "verify")
    assert verify.code == 1 and f"entry {reg}" in verify.err, verify.err

"""The tamper suite: a genuine governance log, then every way to falsify it, on three backends.

Each case edits, deletes, swaps, forges or re-signs (some as a database admin without the log
key, some as the holder of the log key, some as an approver), is materialized as a bundle
(verified through the CLI, `log verify --bundle B --vkey K --deep --format json`), as SQLite
tables and as PostgreSQL tables (verified from the database), and must fail with exit 1 /
``ok: false`` naming the first bad entry. The genuine log passes on every backend with only
the log's vkey, whichever key of its chain is pinned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from governance_support import (
    ORIGIN,
    Story,
    build_story,
    resign_checkpoints,
    restatement,
    sign_entry,
    write_bundle,
    write_tables,
)

from backends import fresh_pg_schema, pg_url_or_skip
from ordinance._canonical import canonical_json
from ordinance._cli import main
from ordinance.log.note import Checkpoint, NoteSignature, SignedNote, cosignature_message, sign_note
from ordinance.log.sources import DbSource
from ordinance.log.verify import VerifyReport, verify_source
from ordinance.signing import SIGTYPE_COSIGNATURE_V1, Ed25519Signer
from ordinance.store._engine import make_engine


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return build_story(tmp_path_factory.mktemp("story"))


@dataclass(frozen=True)
class Tampered:
    story: Story
    index: int | None
    words: str
    trusted: str | None = None
    witness: str | None = None
    only: str | None = None  # "bundle" or "db"
    bundle_hook: Callable[[Path], None] | None = None
    db_sql: str | None = None


# --------------------------------------------------------------------------- helpers


def forged(story: Story, changes: dict[int, bytes]) -> Story:
    """Entries replaced and every checkpoint re-signed: the holder of the log key at work."""
    entries = list(story.entries)
    for i, e in changes.items():
        entries[i] = e
    return replace(story, entries=entries, checkpoints=resign_checkpoints(story, entries))


def pred(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(stmt: dict[str, Any]) -> None:
        stmt["predicate"][key] = value

    return edit


def env_dict(raw: bytes) -> dict[str, Any]:
    return dict(json.loads(raw))


def with_duplicate_key(raw: bytes, key: str, first_value: Any) -> bytes:
    """The same JSON object text with ``key`` appearing twice (first the injected value)."""
    text = raw.decode()
    assert text.startswith("{")
    return ("{" + json.dumps(key) + ":" + json.dumps(first_value) + "," + text[1:]).encode()


# --------------------------------------------------------------------------- cases


def c_edit_byte(s: Story) -> Tampered:
    e = bytearray(s.entries[5])
    e[40] ^= 0x01
    entries = list(s.entries)
    entries[5] = bytes(e)
    return Tampered(s.with_entries(entries), 5, "do not hash to signed checkpoint")


def c_delete_entry(s: Story) -> Tampered:
    entries = s.entries[:9] + s.entries[10:]
    return Tampered(s.with_entries(entries), 9, "do not hash to signed checkpoint")


def c_swap_entries(s: Story) -> Tampered:
    entries = list(s.entries)
    entries[5], entries[6] = entries[6], entries[5]
    return Tampered(s.with_entries(entries), 5, "do not hash to signed checkpoint")


def c_append_unsigned(s: Story) -> Tampered:
    extra = restatement(s, 18, pred("timeVerified", "2030-01-01T00:00:00Z"), [s.people.mallory])
    return Tampered(s.with_entries([*s.entries, extra]), 21, "not covered by any signed")


def c_delete_tail(s: Story) -> Tampered:
    return Tampered(s.with_entries(s.entries[:19]), 19, "missing")


def c_truncate_against_trusted(s: Story) -> Tampered:
    keep = [n for n in s.checkpoints if Checkpoint.from_text(SignedNote.parse(n).text).size <= 18]
    cut = replace(s, entries=s.entries[:18], checkpoints=keep)
    return Tampered(cut, 18, "truncated or rolled back", trusted=s.checkpoints[-1])


def c_truncate_resign_against_trusted(s: Story) -> Tampered:
    """The key holder cuts the log back to 15 entries, appends another one and re-signs."""
    entries = [*s.entries[:15], restatement(s, 12, pred("timeVerified", "2031-01-01T00:00:00Z"))]
    cut = replace(s, entries=entries, checkpoints=resign_checkpoints(s, entries))
    kept = next(n for n in s.checkpoints if "\n17\n" in n)
    return Tampered(cut, 16, "truncated or rolled back", trusted=kept)


def c_rollback_past_rotation(s: Story) -> Tampered:
    """The old key's holder rolls the log back to before the rotation the auditor saw."""
    entries = [*s.entries[:16], restatement(s, 12, pred("timeVerified", "2031-01-01T00:00:00Z"))]
    cut = replace(s, entries=entries, checkpoints=resign_checkpoints(s, entries))
    return Tampered(cut, 17, "not signed by any trusted key", trusted=s.checkpoints[-1])


def c_fork_against_trusted(s: Story) -> Tampered:
    trusted = s.checkpoints[-1]
    changed = forged(s, {20: restatement(s, 20, pred("actor", "mallory"))})
    return Tampered(changed, 0, "fork", trusted=trusted)


def c_forged_checkpoint(s: Story) -> Tampered:
    fake = Ed25519Signer.generate(ORIGIN)
    notes = list(s.checkpoints)
    cp = Checkpoint.from_text(SignedNote.parse(notes[4]).text)
    notes[4] = sign_note(cp.text(), [fake]).render()
    return Tampered(replace(s, checkpoints=notes), 4, "not signed by any trusted key")


def c_checkpoint_bad_signature(s: Story) -> Tampered:
    notes = list(s.checkpoints)
    note = SignedNote.parse(notes[6])
    bad = NoteSignature(note.signatures[0].name, note.signatures[0].key_id, bytes(64))
    notes[6] = SignedNote(note.text, (bad,)).render()
    return Tampered(replace(s, checkpoints=notes), 6, "bad note signature")


def c_origin_mismatch(s: Story) -> Tampered:
    notes = []
    for n in s.checkpoints:
        cp = Checkpoint.from_text(SignedNote.parse(n).text)
        key = s.key_for_size(cp.size)
        notes.append(sign_note(replace(cp, origin="other.example/log").text(), [key]).render())
    return Tampered(replace(s, checkpoints=notes), 0, "origin")


def c_cosignature_timestamp(s: Story) -> Tampered:
    w = Ed25519Signer.generate("witness.example/w1", SIGTYPE_COSIGNATURE_V1)
    notes = list(s.checkpoints)
    note = SignedNote.parse(notes[-1])
    ts = 1 << 63
    sig = w.sign(cosignature_message(note.text, ts))
    line = NoteSignature(w.name, bytes.fromhex(w.key_id), struct.pack(">Q", ts) + sig)
    notes[-1] = SignedNote(note.text, (*note.signatures, line)).render()
    return Tampered(replace(s, checkpoints=notes), 19, "above 2^63-1", witness=w.vkey)


def c_approval_signed_by_other(s: Story) -> Tampered:
    forged_ = restatement(s, 5, lambda st: None, [s.people.rita])  # "by vera", rita's key
    stmt = s.statement(5)
    assert stmt["predicate"]["approver"] == "vera@example.com"
    return Tampered(forged(s, {5: forged_}), 5, "signed by rita@example.com's key")


def c_approval_signed_by_log_key(s: Story) -> Tampered:
    forged_ = restatement(s, 5, lambda st: None, [s.log_keys[0]])
    return Tampered(forged(s, {5: forged_}), 5, "only by the log key")


def c_approval_by_outsider(s: Story) -> Tampered:
    forged_ = restatement(s, 5, pred("approver", "mallory@example.com"), [s.people.mallory])
    return Tampered(forged(s, {5: forged_}), 5, "not in the roster")


def c_approval_unregistered_version(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["version"] = "9.9.9"
        st["subject"][0]["name"] = "toy@9.9.9"

    forged_ = restatement(s, 5, edit, [s.people.vera])
    return Tampered(forged(s, {5: forged_}), 5, "never registered")


def c_waiver_without_role(s: Story) -> Tampered:
    forged_ = restatement(s, 9, pred("approver", "vera@example.com"), [s.people.vera])
    return Tampered(forged(s, {9: forged_}), 9, "waivers need one of risk-officer")


def c_waiver_by_author(s: Story) -> Tampered:
    """An admin gives the author alice the risk-officer role; alice waives her own version."""
    from ordinance.approvals import Roster

    def promote_alice(st: dict[str, Any]) -> None:
        roster = st["predicate"]["roster"]
        for m in roster["members"]:
            if m["id"] == "alice@example.com":
                m["roles"] = sorted({*m["roles"], "risk-officer"})
        digest = Roster.from_dict(roster).digest
        st["predicate"]["previous"] = st["predicate"]["digest"]
        st["predicate"]["digest"] = {"sha256": digest}
        st["subject"][0]["digest"] = {"sha256": digest}

    change = restatement(s, 16, promote_alice, [s.people.adam])
    waiver = restatement(s, 9, pred("approver", "alice@example.com"), [s.people.alice])
    entries = [*s.entries, change, waiver]
    sizes = [*s.sizes(), 22, 23]
    grown = replace(s, entries=entries, checkpoints=resign_checkpoints(s, entries, sizes))
    return Tampered(grown, 22, "separation of duties")


def c_rewritten_registration(s: Story) -> Tampered:
    reg = restatement(s, 1, pred("author", "rita@example.com"))
    return Tampered(forged(s, {1: reg}), 4, "history rewritten")


def c_waiver_short_justification(s: Story) -> Tampered:
    forged_ = restatement(s, 9, pred("justification", "because"), [s.people.rita])
    return Tampered(forged(s, {9: forged_}), 9, "justification")


def c_roster_change_by_log_key(s: Story) -> Tampered:
    forged_ = restatement(s, 16, lambda st: None, [s.log_keys[0]])
    return Tampered(forged(s, {16: forged_}), 16, "not signed by a roster admin")


def c_roster_change_by_non_admin(s: Story) -> Tampered:
    forged_ = restatement(s, 16, lambda st: None, [s.people.vera])
    return Tampered(forged(s, {16: forged_}), 16, "not signed by a roster admin")


def c_roster_change_wrong_previous(s: Story) -> Tampered:
    forged_ = restatement(s, 16, pred("previous", {"sha256": "0" * 64}), [s.people.adam])
    return Tampered(forged(s, {16: forged_}), 16, "previous roster")


def c_roster_digest_mismatch(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["roster"]["members"][0]["roles"] = ["roster-admin", "risk-officer"]

    forged_ = restatement(s, 16, edit, [s.people.adam])
    return Tampered(forged(s, {16: forged_}), 16, "digest does not match")


def c_bootstrap_roster_by_outsider(s: Story) -> Tampered:
    forged_ = restatement(s, 0, lambda st: None, [s.people.mallory])
    return Tampered(forged(s, {0: forged_}), 0, "not signed by the active log key")


def c_registration_foreign_key(s: Story) -> Tampered:
    forged_ = restatement(s, 1, lambda st: None, [s.people.mallory])
    return Tampered(forged(s, {1: forged_}), 1, "not signed by the log key")


def c_stale_key_after_rotation(s: Story) -> Tampered:
    forged_ = restatement(s, 18, lambda st: None, [s.log_keys[0]])
    return Tampered(forged(s, {18: forged_}), 18, "not signed by the log key active")


def c_rotation_without_old_key(s: Story) -> Tampered:
    mine = Ed25519Signer.generate(ORIGIN)

    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["new_vkey"] = mine.vkey

    forged_ = restatement(s, 17, edit, [mine])
    return Tampered(s.with_entries([*s.entries[:17], forged_, *s.entries[18:]]), 17, "key")


def c_log_head_root(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["logHead"]["root"] = "ab" * 32

    return Tampered(forged(s, {8: restatement(s, 8, edit)}), 8, "records root")


def c_naive_rewrite(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["metrics"]["auc"] = 0.99

    return Tampered(forged(s, {2: restatement(s, 2, edit)}), 4, "history rewritten")


def c_dropped_checkpoint(s: Story) -> Tampered:
    notes = [n for n in s.checkpoints if Checkpoint.from_text(SignedNote.parse(n).text).size != 7]
    return Tampered(replace(s, checkpoints=notes), 8, "no checkpoint of that size")


def c_transition_unknown_approval(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["approvals"][0]["digest"] = "0" * 64

    return Tampered(forged(s, {8: restatement(s, 8, edit)}), 8, "no earlier approval")


def c_transition_wrong_approver(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        a = st["predicate"]["approvals"]
        a[0]["approver"], a[1]["approver"] = a[1]["approver"], a[0]["approver"]

    return Tampered(forged(s, {8: restatement(s, 8, edit)}), 8, "attributes approval")


def c_transition_role_not_held(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        for a in st["predicate"]["approvals"]:
            a["roles"] = ["model-validator", "risk-officer"]

    return Tampered(forged(s, {8: restatement(s, 8, edit)}), 8, "did not give it")


def c_transition_wrong_evaluation(s: Story) -> Tampered:
    return Tampered(
        forged(s, {8: restatement(s, 8, pred("evaluationLogIndex", 3))}), 8, "another version"
    )


def c_transition_unknown_waiver(s: Story) -> Tampered:
    def edit(st: dict[str, Any]) -> None:
        st["predicate"]["waivers"][0]["digest"] = "1" * 64

    return Tampered(forged(s, {14: restatement(s, 14, edit)}), 14, "no earlier")


def c_revocation_without_role(s: Story) -> Tampered:
    stmt = s.statement(15)
    target_rita = hashlib.sha256(s.entries[11]).hexdigest()
    stmt["predicate"]["revoker"] = "vera@example.com"
    stmt["predicate"]["revokes"]["sha256"] = target_rita
    return Tampered(forged(s, {15: sign_entry(stmt, [s.people.vera])}), 15, "revocation of")


def _vsa_edit(s: Story, i: int, edit: Callable[[dict[str, Any]], None]) -> bytes:
    def change(st: dict[str, Any]) -> None:
        ev = st["predicate"]["ordinanceEvaluation"]
        doc = json.loads(ev["result"])
        for r in doc["results"]:
            if r["type"] == "approvals.required":
                edit(r["measured"]["approvers"])
        ev["result"] = json.dumps(doc)

    return restatement(s, i, change)


def c_evaluation_counts_the_author(s: Story) -> Tampered:
    """The evaluation before the promotion counts the author's own approval."""
    vsa = _vsa_edit(s, 7, lambda a: a.update({"alice@example.com": ["model-validator"]}))
    return Tampered(forged(s, {7: vsa}), 7, "separation of duties")


def c_evaluation_counts_a_phantom_approval(s: Story) -> Tampered:
    vsa = _vsa_edit(s, 7, lambda a: a.update({"mallory@example.com": ["risk-officer"]}))
    return Tampered(forged(s, {7: vsa}), 7, "no earlier approval entry")


def c_evaluation_counts_a_role_not_held(s: Story) -> Tampered:
    vsa = _vsa_edit(s, 7, lambda a: a.update({"vera@example.com": ["risk-officer"]}))
    return Tampered(forged(s, {7: vsa}), 7, "a role the roster did not give")


def c_duplicate_key_payload(s: Story) -> Tampered:
    stmt_bytes = canonical_json(s.statement(5))
    dup = with_duplicate_key(stmt_bytes, "predicateType", "https://ordinance.dev/registration/v1")
    from ordinance.signing import PAYLOAD_TYPE_INTOTO, sign_envelope

    env = sign_envelope(dup, PAYLOAD_TYPE_INTOTO, [s.people.vera]).to_bytes()
    return Tampered(forged(s, {5: env}), 5, "duplicate JSON key")


def c_duplicate_key_envelope(s: Story) -> Tampered:
    d = env_dict(s.entries[3])
    env = with_duplicate_key(s.entries[3], "payload", base64.b64encode(b'{"_type":"x"}').decode())
    assert env_dict(env)["payload"] == d["payload"]  # Python keeps the last one
    return Tampered(forged(s, {3: env}), 3, "duplicate JSON key")


def c_missing_newline(s: Story) -> Tampered:
    def hook(path: Path) -> None:
        data = (path / "entries.jsonl").read_bytes()
        (path / "entries.jsonl").write_bytes(data[:-1])

    return Tampered(s, 20, "newline", only="bundle", bundle_hook=hook)


def c_stale_checkpoint_file(s: Story) -> Tampered:
    def hook(path: Path) -> None:
        (path / "checkpoint").write_text(s.checkpoints[-3])

    return Tampered(s, 18, "stale", only="bundle", bundle_hook=hook)


def c_index_column(s: Story) -> Tampered:
    return Tampered(
        s,
        6,
        "indexed predicate type",
        only="db",
        db_sql="UPDATE ordinance_log_entry SET predicate_type = 'x' WHERE idx = 6",
    )


def c_leaf_hash_column(s: Story) -> Tampered:
    return Tampered(
        s,
        12,
        "stored leaf hash",
        only="db",
        db_sql="UPDATE ordinance_log_entry SET envelope = (SELECT envelope FROM "
        "ordinance_log_entry WHERE idx = 11) WHERE idx = 12",
    )


CASES: dict[str, Callable[[Story], Tampered]] = {
    name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("c_")
}


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 30


# --------------------------------------------------------------------------- backends


@pytest.fixture(params=["bundle", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        pg_url_or_skip()
    return str(request.param)


def _db_url(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'tampered.db'}"
    else:
        yield from fresh_pg_schema(pg_url_or_skip())


def run(kind: str, t: Tampered, tmp: Path, vkey: str) -> tuple[int, dict[str, Any]]:
    """(exit code, JSON report) of verifying the tampered log on ``kind``."""
    trusted_args: list[str] = []
    if t.trusted is not None:
        (tmp / "trusted.cp").write_text(t.trusted)
        trusted_args = ["--trusted-checkpoint", str(tmp / "trusted.cp")]
    witness_args = ["--witness-vkey", t.witness] if t.witness else []
    if kind == "bundle":
        out = write_bundle(t.story, tmp / "bundle")
        if t.bundle_hook:
            t.bundle_hook(out)
        args = ["log", "verify", "--bundle", str(out), "--vkey", vkey, "--deep"]
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main([*args, *trusted_args, *witness_args, "--format", "json"])
        return code, json.loads(buf.getvalue()) if buf.getvalue().strip() else {}
    gen = _db_url(kind, tmp)
    url = next(gen)
    engine = make_engine(url)
    try:
        write_tables(t.story, engine)
        if t.db_sql:
            from logtest_support import attack

            attack(engine, t.db_sql)
        report: VerifyReport = verify_source(
            DbSource(engine),
            vkey,
            deep=True,
            trusted_checkpoint=t.trusted,
            witness_vkeys=[t.witness] if t.witness else [],
        )
        return (0 if report.ok else 1), report.to_dict()
    finally:
        engine.dispose()
        gen.close()


@pytest.mark.parametrize("pin", ["old", "new"])
def test_genuine_log_passes(story: Story, backend: str, tmp_path: Path, pin: str) -> None:
    vkey = story.log_keys[0 if pin == "old" else -1].vkey
    code, report = run(backend, Tampered(story, None, ""), tmp_path, vkey)
    assert code == 0 and report["ok"], report
    assert report["entries_checked"] == len(story.entries) == 21


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_caught(story: Story, backend: str, tmp_path: Path, case: str) -> None:
    t = CASES[case](story)
    if (t.only == "bundle" and backend != "bundle") or (t.only == "db" and backend == "bundle"):
        pytest.skip(f"{case} is a {t.only}-only attack")
    code, report = run(backend, t, tmp_path, story.vkey)
    assert code == 1, report
    assert report["ok"] is False
    assert report["first_bad_index"] == t.index, report["reason"]
    assert t.words in report["reason"], report["reason"]


def test_manifest_hints_never_fail_a_genuine_log(story: Story, tmp_path: Path) -> None:
    for n, hint in enumerate(([], [3], [3, 17], [999], "junk")):
        out = write_bundle(story, tmp_path / f"b{n}", manifest={"key_changes": hint, "size": 1})
        assert main(["log", "verify", "--bundle", str(out), "--vkey", story.vkey, "--deep"]) == 0


def test_inside_a_workspace_its_key_is_the_trust_anchor(story: Story, tmp_path: Path) -> None:
    import contextlib
    import io

    genuine = write_bundle(story, tmp_path / "genuine")
    fake_key = Ed25519Signer.generate(ORIGIN)
    fake = replace(
        story,
        log_keys=[fake_key],
        rotation_index=10**9,
        checkpoints=resign_checkpoints(
            replace(story, log_keys=[fake_key], rotation_index=10**9), story.entries
        ),
    )
    fabricated = write_bundle(fake, tmp_path / "fabricated")
    home = ["--home", str(story.home)]
    for bundle, code in ((genuine, 0), (fabricated, 1)):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            got = main(
                [*home, "log", "verify", "--bundle", str(bundle), "--deep", "--format", "json"]
            )
        report = json.loads(buf.getvalue())
        assert got == code and report["trust"] == "workspace", report

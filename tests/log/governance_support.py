"""A genuine governance log with every kind of entry, and a forger's toolkit to tamper with it.

:func:`build_story` runs a real workspace through a story that writes every predicate type:
a bootstrap roster, registrations, a denied promotion, signed approvals, a promotion, a
signed waiver, an emergency promotion (with a demotion), a revocation, a roster change signed
by a roster admin, a log key rotation and a rollback. The resulting :class:`Story` holds the
log as plain data (entry bytes, checkpoint notes) plus every key, so a test can play an
attacker who edits, deletes, swaps, forges or re-signs, and materialize the result as a
bundle or as database tables.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from helpers import seeded_signer
from ordinance._canonical import canonical_json
from ordinance.log import merkle
from ordinance.log.note import Checkpoint, NoteSignature, SignedNote, sign_note
from ordinance.signing import PAYLOAD_TYPE_INTOTO, Ed25519Signer, Signer, sign_envelope

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ORIGIN = "ordinance.local/story"


@dataclass
class People:
    vera: Ed25519Signer = field(default_factory=lambda: seeded_signer(11, "vera@example.com"))
    rita: Ed25519Signer = field(default_factory=lambda: seeded_signer(12, "rita@example.com"))
    alice: Ed25519Signer = field(default_factory=lambda: seeded_signer(13, "alice@example.com"))
    adam: Ed25519Signer = field(default_factory=lambda: seeded_signer(14, "adam@example.com"))
    mallory: Ed25519Signer = field(default_factory=lambda: seeded_signer(15, "mallory@example.com"))


@dataclass
class Story:
    """A genuine log as data: entries (leaf inputs), checkpoint notes and the keys."""

    entries: list[bytes]
    checkpoints: list[str]
    log_keys: list[Ed25519Signer]  # old first; the last one signs the head
    people: People
    rotation_index: int
    layout: list[str]  # short predicate name per entry
    home: Path  # the workspace that wrote it

    @property
    def vkey(self) -> str:
        return self.log_keys[0].vkey

    def index_of(self, short: str, nth: int = 0) -> int:
        return [i for i, s in enumerate(self.layout) if s == short][nth]

    def statement(self, i: int) -> dict[str, Any]:
        env = json.loads(self.entries[i])
        return dict(json.loads(base64.b64decode(env["payload"])))

    def key_for_size(self, size: int) -> Ed25519Signer:
        return self.log_keys[0] if size <= self.rotation_index else self.log_keys[-1]

    def key_for_entry(self, i: int) -> Ed25519Signer:
        return self.log_keys[0] if i < self.rotation_index else self.log_keys[-1]

    def sizes(self) -> list[int]:
        return [Checkpoint.from_text(SignedNote.parse(n).text).size for n in self.checkpoints]

    def with_entries(self, entries: list[bytes]) -> Story:
        return replace(self, entries=entries)


def short(ptype: str) -> str:
    return ptype.rstrip("/").rsplit("/", 2)[-2]


def build_story(root: Path) -> Story:
    """Run the story in a fresh SQLite workspace and return its log."""
    from helpers import small_manifest, write_packs
    from ordinance import promote, rollback
    from ordinance._cli import main
    from ordinance.approvals import Member, Roster, apply_roster, approve, revoke, waive
    from ordinance.signing import load_signer
    from ordinance.workspace import Workspace, init_workspace

    people = People()
    home = root / ".ordinance"
    ws = init_workspace(
        home,
        db_url=f"sqlite:///{root / 'story.db'}",
        origin=ORIGIN,
        policies={"production": write_packs(root / "packs")["production"]},
    )
    old_key = load_signer(ws.log_key_path)

    def roster(admin: bool) -> Roster:
        roles = {
            "vera@example.com": {"model-validator"},
            "rita@example.com": {"risk-officer"},
            "alice@example.com": {"model-validator", "ml-engineer"},
        }
        if admin:
            roles["adam@example.com"] = {"roster-admin"}
        keys = {p.name: p for p in (people.vera, people.rita, people.alice, people.adam)}
        return Roster(
            tuple(
                Member(id=i, roles=frozenset(r), keys=(keys[i].verifier,))
                for i, r in sorted(roles.items())
            )
        )

    apply_roster(ws, roster(admin=True), actor="ops", now=T0)
    for v, auc in (("1.0.0", 0.6), ("1.1.0", 0.9)):
        ws.register(small_manifest(root / v, version=v, metrics={"auc": auc}), now=T0 + HOUR)
    promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 2 * HOUR)  # denied
    for p in (people.vera, people.rita):
        approve(ws, "toy", "1.1.0", "production", p, "reviewed", now=T0 + 3 * HOUR)
    assert promote(ws, "toy", "1.1.0", "production", "ci", now=T0 + 4 * HOUR).allowed
    waive(
        ws,
        "toy",
        "1.0.0",
        "auc-floor",
        "emergency: the incumbent scorer is needed for a week",
        T0 + 24 * HOUR,
        people.rita,
        stages=["production"],
        now=T0 + 5 * HOUR,
    )
    records = [
        approve(ws, "toy", "1.0.0", "production", p, "emergency", now=T0 + 5 * HOUR)
        for p in (people.vera, people.rita)
    ]
    assert promote(ws, "toy", "1.0.0", "production", "ci", now=T0 + 6 * HOUR).allowed
    revoke(ws, records[0].digest, people.rita, reason="superseded", now=T0 + 7 * HOUR)
    bigger = roster(admin=True)
    bigger = Roster(
        tuple(
            replace(m, roles=m.roles | {"risk-officer"}) if m.id == "vera@example.com" else m
            for m in bigger.members
        )
    )
    apply_roster(ws, bigger, actor="adam", now=T0 + 8 * HOUR, signer=people.adam)
    ws.close()
    assert (
        main(["--home", str(home), "keys", "rotate", "--reason", "annual", "--actor", "ops"]) == 0
    )
    ws = Workspace.open(home)
    new_key = load_signer(ws.log_key_path)
    assert rollback(ws, "toy", "1.1.0", "ci", now=T0 + 9 * HOUR).allowed
    log = ws.audit_log()
    entries = [e.envelope for e in log.entries()]
    layout = [short(e.predicate_type) for e in log.entries()]
    notes = log.checkpoints()
    ws.close()
    return Story(
        entries=entries,
        checkpoints=notes,
        log_keys=[old_key, new_key],
        people=people,
        rotation_index=layout.index("key-change"),
        layout=layout,
        home=home,
    )


# --------------------------------------------------------------------------- forging


def sign_entry(statement: dict[str, Any], signers: list[Signer]) -> bytes:
    return sign_envelope(canonical_json(statement), PAYLOAD_TYPE_INTOTO, signers).to_bytes()


def restatement(story: Story, i: int, edit: Any, signers: list[Signer] | None = None) -> bytes:
    """Entry ``i`` with its statement edited by ``edit(stmt)`` and signed again."""
    stmt = story.statement(i)
    edit(stmt)
    return sign_entry(stmt, signers if signers is not None else [story.key_for_entry(i)])


def resign_checkpoints(
    story: Story, entries: list[bytes], sizes: list[int] | None = None
) -> list[str]:
    """Checkpoints at ``sizes`` (default: the story's) over ``entries``, signed like the log."""
    leaves = [merkle.leaf_hash(e) for e in entries]
    out = []
    for size in sizes or story.sizes():
        if size > len(entries):
            break
        root = merkle.root(leaves[:size])
        key = story.key_for_size(size)
        signers: list[Signer] = [key]
        if key is not story.log_keys[0] and size == story.rotation_index + 1:
            signers.append(story.log_keys[0])
        out.append(sign_note(Checkpoint(ORIGIN, size, root).text(), signers).render())
    return out


def note_with(note: str, sig: NoteSignature) -> str:
    n = SignedNote.parse(note)
    return SignedNote(n.text, (*n.signatures, sig)).render()


# --------------------------------------------------------------------------- materializing


def write_bundle(story: Story, out: Path, *, manifest: dict[str, Any] | None = None) -> Path:
    """A bundle directory with the story's entries and checkpoints, as `log export` writes."""
    out.mkdir(parents=True)
    body = b"".join(e + b"\n" for e in story.entries)
    (out / "entries.jsonl").write_bytes(body)
    (out / "checkpoints.jsonl").write_text(
        "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in story.checkpoints)
    )
    (out / "checkpoint").write_text(story.checkpoints[-1] if story.checkpoints else "")
    (out / "log.vkey").write_text(story.log_keys[-1].vkey + "\n")
    head = Checkpoint.from_text(SignedNote.parse(story.checkpoints[-1]).text)
    man = {
        "format": "ordinance-log-bundle/v1",
        "origin": ORIGIN,
        "size": head.size,
        "root": head.root.hex(),
        "vkey": story.log_keys[-1].vkey,
        "key_changes": [story.rotation_index],
        "entries_sha256": hashlib.sha256(body).hexdigest(),
    }
    if manifest:
        man.update(manifest)
    (out / "manifest.json").write_text(json.dumps(man, indent=2) + "\n")
    return out


def write_tables(story: Story, engine: Engine) -> None:
    """The story's log as database tables (fresh schema), as an attacker with DB rights could."""
    from ordinance.log import create_schema
    from ordinance.log.dsse import Envelope, statement_info

    with engine.begin() as conn:
        create_schema(conn)
        for i, env in enumerate(story.entries):
            try:
                info = statement_info(Envelope.from_bytes(env))
                cols = (info.predicate_type, info.subject_name, info.subject_digest)
            except Exception:
                cols = ("?", "?", "?")
            conn.exec_driver_sql(
                "INSERT INTO ordinance_log_entry (idx, leaf_hash, envelope, predicate_type, "
                "subject_name, subject_digest, logged_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                if conn.dialect.name == "postgresql"
                else "INSERT INTO ordinance_log_entry (idx, leaf_hash, envelope, predicate_type, "
                "subject_name, subject_digest, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (i, merkle.leaf_hash(env), env, *cols, "2026-03-02T09:00:00.000000Z"),
            )
        for note in story.checkpoints:
            n = SignedNote.parse(note)
            cp = Checkpoint.from_text(n.text)
            conn.exec_driver_sql(
                "INSERT INTO ordinance_log_checkpoint (tree_size, root_hash, note, created_at) "
                + (
                    "VALUES (%s, %s, %s, %s)"
                    if conn.dialect.name == "postgresql"
                    else "VALUES (?, ?, ?, ?)"
                ),
                (cp.size, cp.root, note, "2026-03-02T09:00:00.000000Z"),
            )

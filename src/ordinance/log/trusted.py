"""The trusted head: how far this reader has verified the log, so the next check is incremental.

A :class:`TrustedHead` is a signed checkpoint this process (or an earlier run in the same
workspace) has verified end to end, with the tree's frontier (the roots of the perfect
subtrees ``perfect_nodes(0, size)``) and the log keys it trusts at that size. Advancing it to a
newer checkpoint re-hashes only the entries added since, folds them into the frontier and
compares the result with the new signed root: that one comparison proves that the new tree
extends the trusted one (consistency) *and* that every new entry's stored bytes are what the
log signed. Nothing older is taken from the database's stored tree.

The head can be kept in a small JSON file (the workspace keeps it under ``state/``). The file
is self-authenticating: it holds the signed checkpoint note, whose signature is checked on
load, and the frontier must fold to that note's root. A file that does not verify is ignored
(verification starts again from the empty tree); an older genuine file only costs time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ordinance.errors import InputError, VerificationError
from ordinance.log import merkle
from ordinance.log.dsse import PREDICATE_KEY_CHANGE
from ordinance.log.entries import _learn_key
from ordinance.log.note import Checkpoint, SignedNote, verify_note
from ordinance.signing import VerifierKey, parse_vkey

__all__ = ["TrustedHead", "advance", "check_note", "extend_frontier", "load_head", "save_head"]

#: Entries read per query while advancing
_VERIFY_BATCH = 20_000

_FORMAT = "ordinance-trusted-head/v1"


@dataclass(frozen=True)
class TrustedHead:
    """A verified checkpoint: size, root, frontier, its note and the log keys trusted there."""

    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    frontier: tuple[bytes, ...] = ()
    note: str | None = None
    vkeys: tuple[str, ...] = field(default=())

    def keys(self) -> list[VerifierKey]:
        return [parse_vkey(k) for k in self.vkeys]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "size": self.size,
                "root": self.root.hex(),
                "frontier": [base64.b64encode(h).decode() for h in self.frontier],
                "note": self.note,
                "vkeys": list(self.vkeys),
            },
            indent=1,
        )


def extend_frontier(
    size: int, frontier: Sequence[bytes], leaf_hashes: Iterable[bytes]
) -> list[bytes]:
    """The frontier after appending ``leaf_hashes`` to a tree of ``size`` leaves."""
    stack = [(lvl, h) for (lvl, _), h in zip(merkle.perfect_nodes(0, size), frontier, strict=True)]
    sha = hashlib.sha256
    for lh in leaf_hashes:
        level, h = 0, lh
        while stack and stack[-1][0] == level:
            h = sha(b"\x01" + stack.pop()[1] + h).digest()
            level += 1
        stack.append((level, h))
    return [h for _, h in stack]


def check_note(note_text: str, keys: Sequence[VerifierKey], origin: str) -> Checkpoint:
    """Parse a checkpoint note, check a trusted log key signed it and the origin is ours."""
    try:
        note = SignedNote.parse(note_text)
        cp = Checkpoint.from_text(note.text)
    except InputError as exc:
        raise VerificationError(f"the log's checkpoint does not parse: {exc.message}") from None
    verify_note(note, keys)
    if cp.origin != origin:
        raise VerificationError(f"log checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp


def load_head(path: Path, keys: Sequence[VerifierKey], origin: str) -> TrustedHead | None:
    """The head saved at ``path``, or None when absent or not verifiable (start afresh)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT or data.get("note") is None:
            return None
        vkeys = tuple(str(k) for k in data.get("vkeys") or ())
        trusted = [*keys, *(parse_vkey(k) for k in vkeys)]
        cp = check_note(str(data["note"]), trusted, origin)
        frontier = tuple(base64.b64decode(h) for h in data["frontier"])
        if (
            cp.size != int(data["size"])
            or cp.root.hex() != data["root"]
            or len(frontier) != len(merkle.perfect_nodes(0, cp.size))
            or merkle.fold(frontier) != cp.root
        ):
            return None
        return TrustedHead(cp.size, cp.root, frontier, str(data["note"]), vkeys)
    except (OSError, ValueError, KeyError, TypeError, InputError, VerificationError):
        return None


def save_head(path: Path, head: TrustedHead) -> None:
    """Write the head atomically (best effort: a read-only workspace just re-verifies)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(head.to_json(), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return


def advance(
    t: TrustedHead,
    run: Callable[[str, Any], list[Any]],
    entry_range: str,
    size: int,
    root: bytes,
    note_text: str | None,
    own_keys: Sequence[VerifierKey],
    origin: str,
) -> TrustedHead:
    """Verify the log from the trusted head ``t`` up to the stored head ``note_text``.

    Only the entries added since the trusted head are read (``run`` executes
    ``entry_range`` for (start, end, batch size)): their leaf hashes are computed from the
    stored bytes, folded into the trusted frontier and the result compared with the signed
    root. Returns ``t`` itself when the log has not grown. Raises
    :class:`VerificationError` (naming the entry when one is to blame) on a rollback, a fork,
    a bad signature or edited entries.
    """
    if note_text is None:
        if t.size:
            raise VerificationError(
                f"rollback: the log is empty but {t.size} entries were verified before",
                index=0,
            )
        return t
    try:
        cp = Checkpoint.from_text(SignedNote.parse(note_text).text)
    except InputError as exc:
        raise VerificationError(f"the log's checkpoint does not parse: {exc.message}") from None
    if (cp.size, cp.root) != (size, root):
        raise VerificationError(
            f"the checkpoint row at tree size {size} does not match its signed note",
            index=min(size, cp.size),
        )
    if cp.size < t.size:
        raise VerificationError(
            f"rollback: the log has {cp.size} entries but {t.size} were verified before",
            index=cp.size,
        )
    if cp.size == t.size:
        if cp.root != t.root:
            raise VerificationError(
                f"fork: the checkpoint at size {cp.size} is not the one verified before",
                index=max(cp.size - 1, 0),
            )
        if note_text != t.note:
            check_note(note_text, [*own_keys, *t.keys()], origin)
        return t
    vkeys = list(t.vkeys)
    frontier, first_edit = _fold_new_entries(run, entry_range, t, cp.size, vkeys, own_keys)
    keys = [*own_keys, *(parse_vkey(k) for k in vkeys)]
    check_note(note_text, keys, origin)
    if merkle.fold(frontier) != cp.root:
        where = "" if first_edit is None else f" (entry {first_edit} was edited)"
        raise VerificationError(
            f"entries {t.size}..{cp.size - 1} do not hash to the signed checkpoint "
            f"at size {cp.size}{where}",
            index=t.size if first_edit is None else first_edit,
        )
    return TrustedHead(cp.size, cp.root, tuple(frontier), note_text, tuple(vkeys))


def _fold_new_entries(
    run: Callable[[str, Any], list[Any]],
    entry_range: str,
    t: TrustedHead,
    end: int,
    vkeys: list[str],
    own_keys: Sequence[VerifierKey],
) -> tuple[list[bytes], int | None]:
    """Fold entries ``t.size .. end-1`` (stored bytes, re-hashed) into the frontier.

    Key-change entries signed by a trusted key add their new key to ``vkeys``. Returns the
    new frontier and the first entry whose stored leaf hash disagrees with its bytes.
    """
    frontier = list(t.frontier)
    pos = t.size
    first_edit: int | None = None
    sha = hashlib.sha256
    query = entry_range
    while pos < end:
        rows = run(query, (pos, end, _VERIFY_BATCH))
        if not rows:
            raise VerificationError(
                f"log entry {pos} is missing below the signed size {end}", index=pos
            )
        hashes = []
        for idx, env, stored, ptype in rows:
            if int(idx) != pos:
                raise VerificationError(
                    f"log entry {pos} is missing below the signed size {end}", index=pos
                )
            env = bytes(env)
            lh = sha(b"\x00" + env).digest()
            if first_edit is None and bytes(stored) != lh:
                first_edit = pos
            if ptype == PREDICATE_KEY_CHANGE:
                _learn_key(env, vkeys, own_keys)
            hashes.append(lh)
            pos += 1
        frontier = extend_frontier(pos - len(hashes), frontier, hashes)
    return frontier, first_edit

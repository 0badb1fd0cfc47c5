"""The log key chain k0 -> k1 -> ..., resolved from key-change entries (each signed by the
key it replaces and by the new key)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from contextlib import closing

from ordinance.errors import InputError
from ordinance.log._verifying import _PAE_PREFIX, _as_bytes, _Bad
from ordinance.log.dsse import PREDICATE_KEY_CHANGE, _check_statement
from ordinance.log.facts import Malformed, entry_facts, strict_loads
from ordinance.log.note import Checkpoint, SignedNote
from ordinance.log.sources import LogSource
from ordinance.signing import (
    VerifierKey,
    b64decode,
    parse_vkey,
)

# --------------------------------------------------------------------------- key chain
#
# The chain k0 -> k1 -> ... comes from key-change entries. Where they are is a hint from the
# source (the database's index column, the bundle manifest): a hinted entry that is not a
# key change is ignored, and when the checkpoints do not fit the hinted chain the entries
# themselves are searched. So a wrong hint costs time, never a verdict.


def _parse_key_change(raw: bytes) -> tuple[VerifierKey, VerifierKey] | None:
    """(old, new) of a key-change entry signed by both keys; ``None`` if not a key change.

    Raises :class:`Malformed` for a key change that does not verify.
    """
    try:
        env = strict_loads(raw)
        payload = b64decode(env["payload"])
        stmt = strict_loads(payload)
        if not isinstance(stmt, dict) or stmt.get("predicateType") != PREDICATE_KEY_CHANGE:
            return None
        _check_statement(stmt)
        facts = entry_facts(PREDICATE_KEY_CHANGE, stmt)
        assert facts is not None
        old, new = parse_vkey(facts[0]), parse_vkey(facts[1])
        sigs = [(str(s.get("keyid") or ""), b64decode(s["sig"])) for s in env["signatures"]]
    except Malformed as exc:
        raise Malformed(f"invalid key-change entry: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error, InputError):
        return None
    msg = _PAE_PREFIX + b"%d %s" % (len(payload), payload)
    for k, what in ((old, "old"), (new, "new")):
        if not any((not kid or kid == k.key_id) and k.verify(msg, sig) for kid, sig in sigs):
            raise Malformed(f"invalid key-change entry: not signed by its {what} key")
    return old, new


def _b64_patterns(text: bytes) -> list[bytes]:
    """The base64 (standard and URL-safe) renderings of ``text`` at each byte alignment."""
    out = []
    for a in range(3):
        enc = base64.b64encode(b"\0" * a + text)
        first = -(-8 * a // 6)
        last = (8 * (a + len(text))) // 6
        core = enc[first:last]
        out += [core, core.replace(b"+", b"-").replace(b"/", b"_")]
    return out


_KEY_CHANGE_PATTERNS = _b64_patterns(b'"' + PREDICATE_KEY_CHANGE.encode() + b'"')


def _scan_key_changes(source: LogSource) -> list[int]:
    """Indices of entries that may be key changes, found in the entries themselves."""
    found = []
    pats = _KEY_CHANGE_PATTERNS
    with closing(source.iter_entries()) as batches:
        for batch in batches:
            for i, env, _ in batch:
                raw = _as_bytes(env)
                if any(p in raw for p in pats):
                    found.append(i)
    return found


def _chain_from(
    source: LogSource, indices: Sequence[int], hinted: bool
) -> list[tuple[int, VerifierKey, VerifierKey]]:
    changes: list[tuple[int, VerifierKey, VerifierKey]] = []
    for i in indices:
        raw = source.entry_bytes(i)
        if raw is None:
            if hinted:
                continue
            raise _Bad(i, "key-change entry is missing")
        try:
            kc = _parse_key_change(_as_bytes(raw))
        except Malformed as exc:
            raise _Bad(i, str(exc)) from None
        if kc is not None:
            changes.append((i, *kc))
    return changes


def _build_chain(
    changes: list[tuple[int, VerifierKey, VerifierKey]], trusted: VerifierKey
) -> list[tuple[int, VerifierKey]]:
    """[(after index, key)]: key k is active for tree sizes > its ``after``."""
    if not changes:
        return [(-1, trusted)]
    chain: list[tuple[int, VerifierKey]] = [(-1, changes[0][1])]
    for i, old, new in changes:
        if old != chain[-1][1]:
            raise _Bad(i, f"key change from {old.vkey}, but the active key is {chain[-1][1].vkey}")
        chain.append((i, new))
    return chain


def _fits(chain: list[tuple[int, VerifierKey]], notes: Sequence[str], trusted: VerifierKey) -> bool:
    """Whether the chain holds the trusted key and names the signer of every checkpoint."""
    if trusted not in [k for _, k in chain]:
        return False
    for text in notes:
        try:
            note = SignedNote.parse(text)
            size = Checkpoint.from_text(note.text).size
        except InputError:
            continue  # reported by the checkpoint checks
        key = _active_key(chain, size)
        if not any((s.name, s.key_id) == (key.name, key.key_id_bytes) for s in note.signatures):
            return False
    return True


def _key_chain(
    source: LogSource, trusted: VerifierKey, notes: Sequence[str]
) -> list[tuple[int, VerifierKey]]:
    chain = _build_chain(_chain_from(source, source.key_change_indices(), True), trusted)
    if not _fits(chain, notes, trusted):
        chain = _build_chain(_chain_from(source, _scan_key_changes(source), False), trusted)
    if trusted not in [k for _, k in chain]:
        raise _Bad(None, f"the trusted key {trusted.vkey} is not a key of this log")
    return chain


def _active_key(chain: list[tuple[int, VerifierKey]], size: int) -> VerifierKey:
    key = chain[0][1]
    for after, k in chain:
        if after < size:
            key = k
    return key

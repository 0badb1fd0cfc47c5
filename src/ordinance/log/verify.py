"""Offline verification of a whole log, from the database or from an exported bundle.

The pipeline (:func:`verify_source`):

1. parse the trusted vkey and the witness vkeys;
2. resolve the log key chain from key-change entries (each signed by the key it replaces
   and by the new key) and require the trusted key to be part of it;
3. check every checkpoint: parses, one origin, strictly growing sizes, a valid signature by
   the key active at its size, valid witness cosignatures, and the witness quorum on the
   latest one; check the auditor's trusted checkpoint the same way;
4. stream every entry in order: indices contiguous, leaf hash recomputed from the stored
   bytes (and compared to the stored leaf hash when there is one), the Merkle root
   recomputed at every checkpoint size and at the trusted checkpoint's size. Every signed
   root being the root of a prefix of one leaf sequence is what makes consecutive checkpoints
   (and the trusted checkpoint) consistent with each other;
5. with ``deep``: every entry's DSSE signature checked (all CPU cores), its statement parsed,
   and the database's index columns compared with the statement.

The first failure is reported with the first entry index that cannot be shown good.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, func, or_, select

from ordinance import uris
from ordinance.errors import InfrastructureError, InputError, VerificationError
from ordinance.log import merkle
from ordinance.log.dsse import PAYLOAD_TYPE_INTOTO, PREDICATE_KEY_CHANGE, _check_statement
from ordinance.log.note import Checkpoint, SignedNote, verify_cosignatures, verify_note
from ordinance.log.semantics import (
    Deferred,
    Facts,
    Malformed,
    SemanticError,
    SemanticState,
    entry_facts,
    strict_loads,
)
from ordinance.signing import (
    SIGTYPE_COSIGNATURE_V1,
    SIGTYPE_ED25519,
    VerifierKey,
    b64decode,
    ed25519_verify,
    parse_vkey,
)

__all__ = [
    "DbSource",
    "EntryBatches",
    "IndexedBatches",
    "LogSource",
    "VerifyReport",
    "verify_source",
]

EntryBatches = Generator[list[tuple[int, bytes, bytes | None]], None, None]
"""Batches of (index, envelope bytes, stored leaf hash or None), in index order."""
IndexedBatches = Generator[list[tuple[int, bytes, str | None, str | None]], None, None]
"""Batches of (index, envelope bytes, indexed predicate type, indexed subject name)."""

_R = TypeVar("_R")
_CHUNK_LEVEL = 16
_CHUNK = 1 << _CHUNK_LEVEL
_BATCH = 20_000
_DEEP_CHUNK = 5_000
_DEEP_PARALLEL_MIN = 4_000


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a log verification: data, not a boolean."""

    ok: bool
    size: int
    root: bytes | None
    checkpoints_checked: int
    entries_checked: int = 0
    signatures_checked: int = 0
    first_bad_index: int | None = None
    reason: str | None = None
    deep: bool = False
    log_keys: tuple[str, ...] = ()
    witnesses: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex() if self.root is not None else None,
            "checkpoints_checked": self.checkpoints_checked,
            "entries_checked": self.entries_checked,
            "signatures_checked": self.signatures_checked,
            "first_bad_index": self.first_bad_index,
            "reason": self.reason,
            "deep": self.deep,
            "log_keys": list(self.log_keys),
            "witnesses": list(self.witnesses),
        }

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise VerificationError(
                self.reason or "log verification failed", index=self.first_bad_index
            )


class LogSource(Protocol):
    """Where a verifier reads a log from: the database or a bundle directory."""

    def entry_count(self) -> int: ...

    def checkpoints(self) -> list[str]: ...

    def key_change_indices(self) -> list[int]:
        """Hint: indices of key-change entries (unauthenticated; a wrong hint fails closed)."""
        ...

    def entry_bytes(self, index: int) -> bytes | None: ...

    def iter_entries(self) -> EntryBatches:
        """Batches of (index, envelope bytes, stored leaf hash or None), in index order."""
        ...

    def iter_indexed(
        self,
    ) -> IndexedBatches:
        """Batches of (index, envelope, indexed predicate type, indexed subject) for deep checks."""
        ...


class DbSource:
    """Read a log straight from its tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def entry_count(self) -> int:
        from ordinance.log.queries import count_entries

        with self._engine.connect() as conn:
            return count_entries(conn)

    def checkpoints(self) -> list[str]:
        from ordinance.log.queries import _all_checkpoints

        with self._engine.connect() as conn:
            return _all_checkpoints(conn)

    def key_change_indices(self) -> list[int]:
        from ordinance.log.schema import entries_t

        with self._engine.connect() as conn:
            rows = conn.execute(
                select(entries_t.c.idx)
                .where(entries_t.c.predicate_type == PREDICATE_KEY_CHANGE)
                .order_by(entries_t.c.idx)
            )
            return [int(r.idx) for r in rows]

    def entry_bytes(self, index: int) -> bytes | None:
        from ordinance.log.schema import entries_t

        with self._engine.connect() as conn:
            v = conn.execute(select(entries_t.c.envelope).where(entries_t.c.idx == index)).scalar()
        return None if v is None else bytes(v)

    def iter_entries(self) -> EntryBatches:
        yield from self._stream(
            "SELECT idx, envelope, leaf_hash FROM ordinance_log_entry ORDER BY idx", _BATCH
        )

    def iter_indexed(
        self,
    ) -> IndexedBatches:
        yield from self._stream(
            "SELECT idx, envelope, predicate_type, subject_name FROM ordinance_log_entry ORDER BY idx",
            _DEEP_CHUNK,
        )

    def _stream(self, query: str, batch: int) -> Generator[list[Any], None, None]:
        """Rows of ``query`` in batches, straight from the DBAPI cursor (no SQL-layer rows).

        SQLite streams a plain cursor; PostgreSQL uses a server-side (named) cursor, so the
        client holds one batch at a time rather than the whole table.
        """
        raw = self._engine.raw_connection()
        try:
            if self._engine.dialect.name == "postgresql":
                # binary results: bytea arrives as raw bytes, not hex text twice the size
                cur = raw.driver_connection.cursor(name="ordinance_log_verify", binary=True)  # type: ignore[union-attr]
                cur.itersize = batch
            else:
                cur = raw.cursor()
            try:
                cur.execute(query)
                while True:
                    rows = cur.fetchmany(batch)
                    if not rows:
                        return
                    yield rows
            finally:
                cur.close()
        finally:
            raw.close()


class _Bad(Exception):
    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


@dataclass
class _State:
    size: int = 0
    root: bytes | None = None
    checkpoints: int = 0
    entries: int = 0
    signatures: int = 0
    keys: tuple[str, ...] = ()
    witnesses: tuple[str, ...] = ()
    roots: dict[int, bytes] = field(default_factory=dict)
    roots_complete: bool = False


def _as_key(k: str | VerifierKey, sigtype: int, what: str) -> VerifierKey:
    key = k if isinstance(k, VerifierKey) else parse_vkey(k)
    if key.sigtype != sigtype:
        raise InputError(f"{what} {key.vkey} has type 0x{key.sigtype:02x}, want 0x{sigtype:02x}")
    return key


def verify_source(
    source: LogSource,
    vkey: str | VerifierKey,
    *,
    trusted_checkpoint: str | None = None,
    witness_vkeys: Sequence[str | VerifierKey] = (),
    min_witnesses: int = 0,
    deep: bool = False,
    progress: Callable[[int], None] | None = None,
    entry_vkeys: Sequence[str | VerifierKey] = (),
    workers: int | None = None,
) -> VerifyReport:
    """Verify a log; never raises for a bad log (see the report), only for bad arguments.

    ``entry_vkeys`` are extra keys accepted on entries whose predicate type Ordinance does
    not define; Ordinance's own predicates are signed by whom the log's roster and key chain
    say (:mod:`ordinance.log.semantics`), whatever is passed here.
    """
    trusted = _as_key(vkey, SIGTYPE_ED25519, "log key")
    witnesses = [_as_key(w, SIGTYPE_COSIGNATURE_V1, "witness key") for w in witness_vkeys]
    extra = [_as_key(k, SIGTYPE_ED25519, "entry key") for k in entry_vkeys]
    if min_witnesses > len(witnesses):
        raise InputError(
            f"--min-witnesses {min_witnesses} but only {len(witnesses)} witness key(s)"
        )
    st = _State()
    failure: _Bad | None = None
    try:
        _verify_structure(
            source, trusted, trusted_checkpoint, witnesses, min_witnesses, progress, st, workers
        )
    except _Bad as bad:
        failure = bad
    except VerificationError as exc:
        failure = _Bad(exc.index, _bare(exc))
    if deep:
        chain = [parse_vkey(k) for k in st.keys] or [trusted]
        state = SemanticState(
            worker_keys=_unique(chain),
            log_key=chain[0],
            checkpoint_roots=st.roots if st.roots_complete else None,
            extra_keys=extra,
        )
        try:
            _verify_deep(source, state, progress, workers, st)
        except _Bad as bad:
            failure = _first(failure, bad)
        except VerificationError as exc:
            failure = _first(failure, _Bad(exc.index, _bare(exc)))
    return VerifyReport(
        ok=failure is None,
        size=st.size,
        root=st.root,
        checkpoints_checked=st.checkpoints,
        entries_checked=st.entries,
        signatures_checked=st.signatures,
        first_bad_index=None if failure is None else failure.index,
        reason=None if failure is None else failure.reason,
        deep=deep,
        log_keys=st.keys,
        witnesses=st.witnesses,
    )


def _first(a: _Bad | None, b: _Bad) -> _Bad:
    """The failure naming the earlier entry (a failure without an entry comes first)."""
    if a is None:
        return b
    if a.index is None:
        return a
    if b.index is None or b.index < a.index:
        return b
    return a


def _bare(exc: VerificationError) -> str:
    prefix = f"entry {exc.index}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


def _unique(keys: Sequence[VerifierKey]) -> list[VerifierKey]:
    out: list[VerifierKey] = []
    for k in keys:
        if k not in out:
            out.append(k)
    return out


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


# --------------------------------------------------------------------------- structure


@dataclass
class _Target:
    size: int
    root: bytes
    prev: int
    trusted: bool = False


def _check_checkpoint(
    text: str,
    chain: list[tuple[int, VerifierKey]],
    witnesses: Sequence[VerifierKey],
    what: str,
    pending: list[_Bad] | None = None,
    prev: int = 0,
) -> tuple[SignedNote, Checkpoint, list[VerifierKey]]:
    """Parse and check one checkpoint against the key chain.

    Whether the right key of the chain signed it depends on where the key changes sit,
    which the entries themselves prove only once their roots are checked; with ``pending``
    that failure is recorded (naming entry ``prev``) instead of raised, so an earlier edited
    entry is what gets named.
    """
    try:
        note = SignedNote.parse(text)
        cp = Checkpoint.from_text(note.text)
    except InputError as exc:
        raise _Bad(None, f"{what}: {exc.message}") from None
    active = _active_key(chain, cp.size)
    if cp.origin != active.name:
        raise _Bad(
            None,
            f"{what} (size {cp.size}) has origin {cp.origin!r}, but the log key is named "
            f"{active.name!r}",
        )
    keys = [k for _, k in chain]
    try:
        signed_by = verify_note(note, keys)
        cosigned = verify_cosignatures(note, witnesses)
    except VerificationError as exc:
        raise _Bad(None, f"{what} (size {cp.size}): {exc.message}") from None
    if active not in signed_by:
        bad = _Bad(
            None if pending is None else prev,
            f"{what} (size {cp.size}) is not signed by the active log key {active.vkey}",
        )
        if pending is None:
            raise bad
        pending.append(bad)
    return note, cp, cosigned


def _verify_structure(
    source: LogSource,
    trusted: VerifierKey,
    trusted_checkpoint: str | None,
    witnesses: Sequence[VerifierKey],
    min_witnesses: int,
    progress: Callable[[int], None] | None,
    st: _State,
    workers: int | None = None,
) -> None:
    notes = source.checkpoints()
    chain = _key_chain(source, trusted, notes)
    st.keys = tuple(k.vkey for _, k in chain)
    targets: list[_Target] = []
    origin: str | None = None
    prev = 0
    cosigned: list[VerifierKey] = []
    last_text: str | None = None
    pending: list[_Bad] = []
    for text in notes:
        try:
            note, cp, cosigned = _check_checkpoint(
                text, chain, witnesses, "checkpoint", pending, prev
            )
        except _Bad as bad:
            # name the first entry this checkpoint would have vouched for
            raise _Bad(prev if bad.index is None else bad.index, bad.reason) from None
        if origin is None:
            origin = cp.origin
        elif cp.origin != origin:
            raise _Bad(prev, f"checkpoint {cp.size} has origin {cp.origin!r}, not {origin!r}")
        if cp.size <= prev and targets:
            raise _Bad(prev, f"checkpoint sizes are not increasing ({prev} then {cp.size})")
        if cp.size == 0:
            raise _Bad(0, "a stored checkpoint of size 0")
        targets.append(_Target(cp.size, cp.root, prev))
        st.roots[cp.size] = cp.root
        prev = cp.size
        last_text = note.text
        st.checkpoints += 1
    st.roots_complete = True
    if targets:
        st.size, st.root = targets[-1].size, targets[-1].root
        st.witnesses = tuple(k.vkey for k in cosigned)
    head = getattr(source, "head_note", None)
    if head is not None:
        _check_head_file(head(), last_text, chain, witnesses, prev)
    if min_witnesses and len(cosigned) < min_witnesses:
        raise _Bad(
            None,
            f"the latest checkpoint has {len(cosigned)} witness cosignature(s); "
            f"policy needs {min_witnesses}",
        )
    if trusted_checkpoint is not None:
        try:
            _note, tcp, _ = _check_checkpoint(
                trusted_checkpoint, chain, witnesses, "trusted checkpoint"
            )
        except _Bad as bad:
            # e.g. signed by a key this log never rotated to: rolled back past a rotation
            raise _Bad(prev, bad.reason) from None
        if origin is not None and tcp.origin != origin:
            raise _Bad(None, f"trusted checkpoint is for log {tcp.origin!r}, not {origin!r}")
        if tcp.size > prev:
            raise _Bad(
                prev,
                f"the log is truncated or rolled back: it has {prev} signed entries, "
                f"but the trusted checkpoint covers {tcp.size}",
            )
        if tcp.size > 0:
            targets.append(_Target(tcp.size, tcp.root, 0, trusted=True))
            targets.sort(key=lambda t: (t.size, t.trusted))
    try:
        _stream_and_count(source, targets, progress, st, workers)
    except _Bad as bad:
        raise _first(pending[0] if pending else None, bad) from None
    if pending:
        raise pending[0]


def _stream_and_count(
    source: LogSource,
    targets: list[_Target],
    progress: Callable[[int], None] | None,
    st: _State,
    workers: int | None,
) -> None:
    nworkers = workers or os.cpu_count() or 1
    top = targets[-1].size if targets else 0
    if isinstance(source, DbSource) and nworkers > 1 and top >= _STRUCT_PARALLEL_MIN and _fork_ok():
        _stream_parallel(source, targets, progress, st, nworkers)
    else:
        _stream(source, targets, progress, st)
    latest = max((t.size for t in targets if not t.trusted), default=0)
    if st.entries < latest:
        raise _Bad(
            st.entries,
            f"entries {st.entries}..{latest - 1} are missing: the log has {st.entries} entries "
            f"but checkpoint {latest} covers {latest} (deleted or truncated)",
        )
    if st.entries > latest:
        raise _Bad(
            latest,
            f"entries {latest}..{st.entries - 1} are not covered by any signed checkpoint "
            "(inserted after signing)",
        )


def _check_head_file(
    text: str | None,
    latest_text: str | None,
    chain: list[tuple[int, VerifierKey]],
    witnesses: Sequence[VerifierKey],
    latest: int,
) -> None:
    """A bundle's ``checkpoint`` file must be its latest checkpoint (signed, same tree)."""
    if text is None or (not text and latest_text is None):
        return
    if latest_text is None:
        raise _Bad(0, "the checkpoint file names a tree, but the bundle has no checkpoints")
    try:
        _note, cp, _ = _check_checkpoint(text, chain, witnesses, "the bundle's checkpoint file")
    except _Bad as bad:
        raise _Bad(latest, bad.reason) from None
    if cp.text() != latest_text and _note.text != latest_text:
        if cp.size != latest:
            raise _Bad(
                min(cp.size, latest),
                f"the bundle's checkpoint file is for tree size {cp.size}, but its latest "
                f"signed checkpoint is {latest} (stale or substituted checkpoint file)",
            )
        raise _Bad(
            None,
            f"the bundle's checkpoint file has another root at size {cp.size} than the "
            "checkpoint it claims to be (fork)",
        )


def _stream(
    source: LogSource,
    targets: list[_Target],
    progress: Callable[[int], None] | None,
    st: _State,
) -> None:
    frontier: list[tuple[int, bytes]] = []
    base = 0
    buf: list[bytes] = []
    ti = 0
    expected = 0
    sha = hashlib.sha256

    def settle(full: bool) -> None:
        nonlocal base, buf, ti
        levels = merkle.build_levels(buf) if buf else [[]]
        end = base + len(buf)
        while ti < len(targets) and targets[ti].size <= end:
            t = targets[ti]
            m = t.size - base
            hashes = [h for _, h in frontier] + [
                levels[lv][i] for lv, i in merkle.perfect_nodes(0, m)
            ]
            if merkle.fold(hashes) != t.root:
                raise _root_mismatch(t)
            ti += 1
        if full:
            level, h = _CHUNK_LEVEL, levels[_CHUNK_LEVEL][0]
            while frontier and frontier[-1][0] == level:
                _, left = frontier.pop()
                h = sha(b"\x01" + left + h).digest()
                level += 1
            frontier.append((level, h))
            base += _CHUNK
            buf = []

    def take(batch: list[tuple[int, bytes, bytes | None]]) -> None:
        nonlocal expected
        if not batch:
            return
        first, last = batch[0][0], batch[-1][0]
        if first != expected or last != expected + len(batch) - 1:
            for k, row in enumerate(batch):
                if row[0] != expected + k:
                    missing = expected + k
                    raise _Bad(
                        missing,
                        f"entry {missing} is missing (found entry {row[0]} in its place)"
                        if row[0] > missing
                        else f"entry {row[0]} appears twice or out of order",
                    )
        try:
            lhs = [sha(b"\x00" + env).digest() for _, env, _ in batch]
        except TypeError:  # a value that is not bytes (e.g. TEXT planted in SQLite)
            batch = [(i, _as_bytes(env), h) for i, env, h in batch]
            lhs = [sha(b"\x00" + env).digest() for _, env, _ in batch]
        stored = [s for _, _, s in batch]
        if stored[0] is not None and stored != lhs:
            for k, (a, b) in enumerate(zip(stored, lhs, strict=True)):
                if a != b:
                    raise _Bad(
                        expected + k,
                        "entry bytes do not match the stored leaf hash (entry edited)",
                    )
        expected += len(batch)
        pos = 0
        while pos < len(lhs):
            take = min(_CHUNK - len(buf), len(lhs) - pos)
            buf.extend(lhs[pos : pos + take])
            pos += take
            if len(buf) == _CHUNK:
                settle(True)
        st.entries = expected
        if progress is not None:
            progress(len(batch))

    with closing(source.iter_entries()) as batches:
        for batch in batches:
            take(batch)
    settle(False)


# --------------------------------------------------------------------------- structure, parallel
#
# For a database with many entries: each worker reads its own 2**_CHUNK_LEVEL-entry ranges
# (its own connection), checks indices and stored leaf hashes, hashes every envelope, and
# builds that range's subtree; it returns the range root and, for each checkpoint size that
# falls inside the range, the perfect-subtree roots of the range's prefix. This process folds
# them onto its frontier in order, exactly as :func:`_stream` does, on every core.

_STRUCT_PARALLEL_MIN = 4 * _CHUNK
_RANGE_QUERY = "SELECT idx, envelope, leaf_hash FROM ordinance_log_entry WHERE idx >= ? AND idx < ? ORDER BY idx"
_W_ENGINE: Engine | None = None
_W_QUERY = ""

StructResult = tuple[int | None, str, int, bytes | None, dict[int, list[bytes]]]
"""(bad index or None, reason, entries read, range root if full, {prefix size: nodes})."""


def _fork_ok() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _init_structure_worker() -> None:
    if _W_ENGINE is not None:  # forked: never reuse the parent's pooled connections
        _W_ENGINE.dispose(close=False)


def _structure_chunk(task: tuple[int, int, list[int]]) -> StructResult:
    start, end, offsets = task
    assert _W_ENGINE is not None
    raw = _W_ENGINE.raw_connection()
    try:
        if _W_ENGINE.dialect.name == "postgresql":  # binary results, as in DbSource._stream
            cur = raw.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
        else:
            cur = raw.cursor()
        cur.execute(_W_QUERY, (start, end))
        rows = cur.fetchall()
        cur.close()
    finally:
        raw.close()
    n = len(rows)
    if n and (rows[0][0] != start or rows[-1][0] != start + n - 1):
        for k, row in enumerate(rows):
            if row[0] != start + k:
                return (
                    start + k,
                    f"entry {start + k} is missing (found entry {row[0]})",
                    k,
                    None,
                    {},
                )
    sha = hashlib.sha256
    try:
        lhs = [sha(b"\x00" + env).digest() for _, env, _ in rows]
    except TypeError:
        lhs = [sha(b"\x00" + _as_bytes(env)).digest() for _, env, _ in rows]
    stored = [bytes(h) if h is not None else None for _, _, h in rows]
    if stored != lhs:
        for k, (a, b) in enumerate(zip(stored, lhs, strict=True)):
            if a != b:
                reason = "entry bytes do not match the stored leaf hash (entry edited)"
                return start + k, reason, k, None, {}
    levels = merkle.build_levels(lhs) if lhs else [[]]
    prefixes = {
        m: [levels[lv][i] for lv, i in merkle.perfect_nodes(0, m)] for m in offsets if m <= n
    }
    top = (end - start).bit_length() - 1
    full = levels[top][0] if n == end - start and n == 1 << top else None
    return None, "", n, full, prefixes


def _stream_parallel(
    source: DbSource,
    targets: list[_Target],
    progress: Callable[[int], None] | None,
    st: _State,
    nworkers: int,
) -> None:
    from ordinance.log.schema import entries_t

    global _W_ENGINE, _W_QUERY
    latest = targets[-1].size
    size = 1 << _CHUNK_LEVEL
    ph = "?" if source.engine.dialect.paramstyle == "qmark" else "%s"
    tasks = []
    ti = 0
    for start in range(0, latest, size):
        end = min(start + size, latest)
        offsets = []
        while ti < len(targets) and targets[ti].size <= end:
            offsets.append(targets[ti].size - start)
            ti += 1
        tasks.append((start, end, offsets))
    _W_ENGINE = source.engine
    _W_QUERY = _RANGE_QUERY.replace("?", ph)
    frontier: list[tuple[int, bytes]] = []
    sha = hashlib.sha256
    ti = 0
    try:
        ctx = multiprocessing.get_context("fork")
        with (
            ProcessPoolExecutor(
                nworkers, mp_context=ctx, initializer=_init_structure_worker
            ) as pool,
            closing(_windowed(pool, _structure_chunk, iter(tasks), 2 * nworkers)) as results,
        ):
            for (start, end, _), res in zip(tasks, results, strict=True):
                bad, reason, n, full, prefixes = res
                st.entries = start + n
                if bad is not None:
                    raise _Bad(bad, reason)
                if n < end - start:
                    raise _Bad(
                        start + n,
                        f"entries from {start + n} are missing: checkpoint {latest} covers "
                        f"{latest} entries (deleted or truncated)",
                    )
                while ti < len(targets) and targets[ti].size <= end:
                    t = targets[ti]
                    hashes = [h for _, h in frontier] + prefixes[t.size - start]
                    if merkle.fold(hashes) != t.root:
                        raise _root_mismatch(t)
                    ti += 1
                if full is not None:
                    level, h = _CHUNK_LEVEL, full
                    while frontier and frontier[-1][0] == level:
                        _, left = frontier.pop()
                        h = sha(b"\x01" + left + h).digest()
                        level += 1
                    frontier.append((level, h))
                if progress is not None:
                    progress(n)
    finally:
        _W_ENGINE = None
    with source.engine.connect() as conn:
        extra = conn.execute(
            select(func.min(entries_t.c.idx), func.max(entries_t.c.idx)).where(
                or_(entries_t.c.idx < 0, entries_t.c.idx >= latest)
            )
        ).first()
    if extra is not None and extra[0] is not None:
        lo, hi = int(extra[0]), int(extra[1])
        if lo < 0:
            raise _Bad(0, f"entry {lo} appears twice or out of order")
        raise _Bad(
            latest,
            f"entries {latest}..{hi} are not covered by any signed checkpoint "
            "(inserted after signing)",
        )


def _root_mismatch(t: _Target) -> _Bad:
    if t.trusted:
        return _Bad(
            0,
            f"fork: the log's first {t.size} entries do not match the trusted "
            "checkpoint (history rewritten)",
        )
    return _Bad(
        t.prev,
        f"the first {t.size} entries do not hash to signed checkpoint {t.size}: an "
        f"entry in {t.prev}..{t.size - 1} was altered, inserted, removed or reordered",
    )


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


# --------------------------------------------------------------------------- deep
#
# Workers get chunks of raw rows: (indices, envelope bytes, indexed predicate types, indexed
# subject names). Per entry they parse the envelope and its statement strictly (duplicate keys
# and NaN refused), verify every signature a log key (or an --entry-vkey) accounts for, and
# hand back what the semantic checks need: the predicate type, which of those keys signed
# (a bit mask), the signatures no such key accounted for (with the PAE message, so this
# process can check them against the roster in force at that entry), the predicate's facts
# and, for approvals and waivers, the SHA-256 of the envelope. This process then applies the
# entries in log order to :class:`~ordinance.log.semantics.SemanticState`.

_W_KEYS: list[VerifierKey] = []
_W_BY_ID: dict[str, list[tuple[int, bytes]]] = {}
_W_ALL: list[tuple[int, bytes]] = []
_INTOTO = PAYLOAD_TYPE_INTOTO.encode()
_PAE_PREFIX = b"DSSEv1 %d %s " % (len(_INTOTO), _INTOTO)
_DIGESTED = frozenset({uris.APPROVAL, uris.WAIVER, uris.WAIVER_REQUEST})

Chunk = tuple[list[int], list[bytes], list[str | None], list[str | None]]
Record = tuple[str, int, Deferred | None, Facts | None, str | None]
ChunkResult = tuple[list[int], list[Record], int | None, str | None]


def _init_worker(vkeys: list[str]) -> None:
    global _W_KEYS, _W_BY_ID, _W_ALL
    _W_KEYS = [parse_vkey(k) for k in vkeys]
    _W_BY_ID = {}
    for bit, k in enumerate(_W_KEYS):
        _W_BY_ID.setdefault(k.key_id, []).append((bit, k.public_key))
    _W_ALL = [(bit, k.public_key) for bit, k in enumerate(_W_KEYS)]


def _entry_record(raw: bytes, ptype_idx: str | None, subject_idx: str | None) -> Record:
    """Parse and check one entry; raise :class:`Malformed` with the reason."""
    env = _envelope_loads(raw)
    if not isinstance(env, dict):
        raise Malformed("the envelope is not a JSON object")
    payload_b64, ptype_env, sigs = env.get("payload"), env.get("payloadType"), env.get("signatures")
    if not isinstance(payload_b64, str) or not isinstance(ptype_env, str):
        raise Malformed("the envelope needs string 'payload' and 'payloadType'")
    if ptype_env != PAYLOAD_TYPE_INTOTO:
        raise Malformed(f"payloadType must be {PAYLOAD_TYPE_INTOTO}")
    if not isinstance(sigs, list) or not sigs:
        raise Malformed("the envelope has no signatures")
    try:
        payload = b64decode(payload_b64)
    except (ValueError, binascii.Error):
        raise Malformed("the payload is not base64") from None
    msg = _PAE_PREFIX + b"%d %s" % (len(payload), payload)
    mask = 0
    deferred: list[tuple[str, bytes]] = []
    for s in sigs:
        if not isinstance(s, dict) or not isinstance(s.get("sig"), str):
            raise Malformed("a signature is not {'sig': <base64>}")
        kid = s.get("keyid") or ""
        if not isinstance(kid, str):
            raise Malformed("a signature's keyid is not a string")
        try:
            sig = b64decode(s["sig"])
        except (ValueError, binascii.Error):
            raise Malformed("a signature is not base64") from None
        candidates = _W_BY_ID.get(kid) if kid else _W_ALL
        hit = 0
        for bit, pk in candidates or ():
            if ed25519_verify(pk, msg, sig):
                hit |= 1 << bit
        if hit:
            mask |= hit
        elif kid and candidates:
            raise Malformed(f"bad DSSE signature by log key {kid}")
        else:
            deferred.append((kid, sig))
    stmt = strict_loads(payload)
    try:
        _check_statement(stmt)
    except InputError as exc:
        raise Malformed(exc.message) from None
    ptype = stmt["predicateType"]
    if ptype_idx is not None and ptype_idx != ptype:
        raise Malformed("the indexed predicate type does not match the entry")
    if subject_idx is not None and subject_idx != str(stmt["subject"][0].get("name") or ""):
        raise Malformed("the indexed subject name does not match the entry")
    facts = entry_facts(ptype, stmt)
    digest = hashlib.sha256(raw).hexdigest() if ptype in _DIGESTED else None
    return ptype, mask, ((msg, tuple(deferred)) if deferred else None), facts, digest


def _envelope_loads(raw: bytes) -> Any:
    """Strictly parse an envelope; fast when it is plain (no escapes, each member once).

    Base64, hex key IDs and the payload type never contain a quote or a backslash, so in an
    envelope without a backslash every member name appears literally: counting them proves
    there is no duplicate without re-encoding. Anything else goes through :func:`strict_loads`.
    """
    if b"\\" not in raw:
        env = json.loads(raw)
        if (
            type(env) is dict
            and len(env) == 3
            and raw.count(b'"payload"') == 1
            and raw.count(b'"payloadType"') == 1
            and raw.count(b'"signatures"') == 1
        ):
            sigs = env["signatures"]
            if (
                type(sigs) is list
                and raw.count(b'"sig"') == len(sigs)
                and raw.count(b'"keyid"')
                == sum(1 for x in sigs if type(x) is dict and "keyid" in x)
                and all(type(x) is dict and len(x) <= 2 for x in sigs)
            ):
                return env
    return strict_loads(raw)


def _check_chunk(chunk: Chunk) -> ChunkResult:
    idxs, envs, ptypes, subjects = chunk
    records: list[Record] = []
    rec = _entry_record
    for n, (raw, ptype, subject) in enumerate(zip(envs, ptypes, subjects, strict=True)):
        try:
            records.append(rec(_as_bytes(raw) if type(raw) is not bytes else raw, ptype, subject))
        except Malformed as exc:
            return idxs, records, idxs[n], f"malformed entry: {exc}"
    return idxs, records, None, None


def _verify_deep(
    source: LogSource,
    state: SemanticState,
    progress: Callable[[int], None] | None,
    workers: int | None,
    st: _State,
) -> None:
    vkeys = [k.vkey for k in state.worker_keys]
    nworkers = workers or os.cpu_count() or 1
    parallel = nworkers > 1 and source.entry_count() >= _DEEP_PARALLEL_MIN
    if not parallel:
        _init_worker(vkeys)
        with closing(_chunks(source)) as chunks:
            _drain((_check_chunk(c) for c in chunks), state, progress, st)
        return
    # fork: workers start in milliseconds with everything imported (spawn re-imports the
    # world per worker). The pool is made before this process opens its cursor; workers
    # never touch inherited connections. Spawn when threads are running (fork is unsafe).
    ctx = multiprocessing.get_context("fork" if _fork_ok() else "spawn")
    with ProcessPoolExecutor(
        nworkers, mp_context=ctx, initializer=_init_worker, initargs=(vkeys,)
    ) as pool:
        pool.submit(int).result()  # start every worker before this process opens a cursor
        with (
            closing(_chunks(source)) as chunks,
            closing(_windowed(pool, _check_chunk, chunks, 2 * nworkers)) as results,
        ):
            _drain(results, state, progress, st)


def _chunks(source: LogSource) -> Generator[Chunk, None, None]:
    """Chunks of ``_DEEP_CHUNK`` entries, as columns (cheap to pickle, no per-entry objects)."""
    idxs: list[int] = []
    envs: list[bytes] = []
    ptypes: list[str | None] = []
    subjects: list[str | None] = []
    with closing(source.iter_indexed()) as batches:
        for batch in batches:
            for i, e, p, s in batch:
                idxs.append(i)
                envs.append(e)
                ptypes.append(p)
                subjects.append(s)
            if len(idxs) >= _DEEP_CHUNK:
                yield idxs, envs, ptypes, subjects
                idxs, envs, ptypes, subjects = [], [], [], []
    if idxs:
        yield idxs, envs, ptypes, subjects


def _windowed(
    pool: ProcessPoolExecutor,
    fn: Callable[[Any], _R],
    items: Iterator[Any],
    window: int,
) -> Generator[_R, None, None]:
    """``fn`` over ``items`` on the pool, in order, at most ``window`` in flight.

    A worker that dies (killed, out of memory) is an infrastructure error, never a hang; on
    an early exit the queued work is cancelled.
    """
    pending: deque[Future[_R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as exc:
        raise InfrastructureError(f"a log verification worker process died: {exc}") from exc
    finally:
        for f in pending:
            f.cancel()


def _drain(
    results: Iterator[ChunkResult],
    state: SemanticState,
    progress: Callable[[int], None] | None,
    st: _State,
) -> None:
    apply = state.apply
    for idxs, records, bad_index, reason in results:
        for i, rec in zip(idxs, records, strict=False):
            try:
                apply(i, *rec)
            except SemanticError as exc:
                raise _Bad(i, str(exc)) from None
        st.signatures += len(records)
        if progress is not None:
            progress(len(records))
        if bad_index is not None:
            raise _Bad(bad_index, reason or "entry invalid")

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

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, select

from docket.errors import DocketError, InputError, VerificationError
from docket.log import merkle
from docket.log.dsse import PREDICATE_KEY_CHANGE, statement_info
from docket.log.note import Checkpoint, SignedNote, verify_cosignatures, verify_note
from docket.signing import (
    SIGTYPE_COSIGNATURE_V1,
    SIGTYPE_ED25519,
    Envelope,
    VerifierKey,
    parse_vkey,
    verify_envelope,
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

_CHUNK_LEVEL = 16
_CHUNK = 1 << _CHUNK_LEVEL
_BATCH = 20_000
_DEEP_CHUNK = 2_000
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

    def entry_count(self) -> int:
        from docket.log.store import count_entries

        with self._engine.connect() as conn:
            return count_entries(conn)

    def checkpoints(self) -> list[str]:
        from docket.log.store import _all_checkpoints

        with self._engine.connect() as conn:
            return _all_checkpoints(conn)

    def key_change_indices(self) -> list[int]:
        from docket.log.store import entries_t

        with self._engine.connect() as conn:
            rows = conn.execute(
                select(entries_t.c.idx)
                .where(entries_t.c.predicate_type == PREDICATE_KEY_CHANGE)
                .order_by(entries_t.c.idx)
            )
            return [int(r.idx) for r in rows]

    def entry_bytes(self, index: int) -> bytes | None:
        from docket.log.store import entries_t

        with self._engine.connect() as conn:
            v = conn.execute(select(entries_t.c.envelope).where(entries_t.c.idx == index)).scalar()
        return None if v is None else bytes(v)

    def iter_entries(self) -> EntryBatches:
        from docket.log.store import entries_t

        q = select(entries_t.c.idx, entries_t.c.envelope, entries_t.c.leaf_hash).order_by(
            entries_t.c.idx
        )
        with self._engine.connect() as conn:
            result = conn.execution_options(yield_per=_BATCH).execute(q)
            try:
                for part in result.partitions():
                    yield [(int(i), bytes(e), bytes(h)) for i, e, h in part]
            finally:
                result.close()

    def iter_indexed(
        self,
    ) -> IndexedBatches:
        from docket.log.store import entries_t

        q = select(
            entries_t.c.idx,
            entries_t.c.envelope,
            entries_t.c.predicate_type,
            entries_t.c.subject_name,
        ).order_by(entries_t.c.idx)
        with self._engine.connect() as conn:
            result = conn.execution_options(yield_per=_DEEP_CHUNK).execute(q)
            try:
                for part in result.partitions():
                    yield [(int(i), bytes(e), p, s) for i, e, p, s in part]
            finally:
                result.close()


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
    """Verify a log; never raises for a bad log (see the report), only for bad arguments."""
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
            source, trusted, trusted_checkpoint, witnesses, min_witnesses, progress, st
        )
    except _Bad as bad:
        failure = bad
    if deep:
        chain = [parse_vkey(k) for k in st.keys] or [trusted]
        try:
            _verify_deep(source, chain + extra, progress, workers, st)
        except _Bad as bad:
            if failure is None or (
                bad.index is not None and (failure.index is None or bad.index < failure.index)
            ):
                failure = bad
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


# --------------------------------------------------------------------------- key chain


def _key_chain(source: LogSource, trusted: VerifierKey) -> list[tuple[int, VerifierKey]]:
    """[(first index signed by it... as (after_index, key))]: key i is active for sizes > after."""
    changes: list[tuple[int, VerifierKey, VerifierKey]] = []
    for i in source.key_change_indices():
        env_bytes = source.entry_bytes(i)
        if env_bytes is None:
            raise _Bad(i, "key-change entry is missing")
        try:
            env = Envelope.from_bytes(env_bytes)
            info = statement_info(env)
            if info.predicate_type != PREDICATE_KEY_CHANGE:
                raise _Bad(i, "entry indexed as a key change is not one")
            pred = info.statement.get("predicate", {})
            old = parse_vkey(str(pred.get("old_vkey", "")))
            new = parse_vkey(str(pred.get("new_vkey", "")))
            verify_envelope(env, [old, new], threshold=2)
        except DocketError as exc:
            raise _Bad(i, f"invalid key-change entry: {exc.message}") from None
        changes.append((i, old, new))
    if not changes:
        return [(-1, trusted)]
    chain: list[tuple[int, VerifierKey]] = [(-1, changes[0][1])]
    for i, old, new in changes:
        if old != chain[-1][1]:
            raise _Bad(i, f"key change from {old.vkey}, but the active key is {chain[-1][1].vkey}")
        chain.append((i, new))
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
) -> tuple[SignedNote, Checkpoint, list[VerifierKey]]:
    try:
        note = SignedNote.parse(text)
        cp = Checkpoint.from_text(note.text)
    except InputError as exc:
        raise _Bad(None, f"{what}: {exc.message}") from None
    keys = [k for _, k in chain]
    try:
        signed_by = verify_note(note, keys)
        cosigned = verify_cosignatures(note, witnesses)
    except VerificationError as exc:
        raise _Bad(None, f"{what} (size {cp.size}): {exc.message}") from None
    active = _active_key(chain, cp.size)
    if active not in signed_by:
        raise _Bad(
            None, f"{what} (size {cp.size}) is not signed by the active log key {active.vkey}"
        )
    return note, cp, cosigned


def _verify_structure(
    source: LogSource,
    trusted: VerifierKey,
    trusted_checkpoint: str | None,
    witnesses: Sequence[VerifierKey],
    min_witnesses: int,
    progress: Callable[[int], None] | None,
    st: _State,
) -> None:
    chain = _key_chain(source, trusted)
    st.keys = tuple(k.vkey for _, k in chain)
    targets: list[_Target] = []
    origin: str | None = None
    prev = 0
    cosigned: list[VerifierKey] = []
    for text in source.checkpoints():
        _note, cp, cosigned = _check_checkpoint(text, chain, witnesses, "checkpoint")
        if origin is None:
            origin = cp.origin
        elif cp.origin != origin:
            raise _Bad(prev, f"checkpoint {cp.size} has origin {cp.origin!r}, not {origin!r}")
        if cp.size <= prev and targets:
            raise _Bad(prev, f"checkpoint sizes are not increasing ({prev} then {cp.size})")
        if cp.size == 0:
            raise _Bad(0, "a stored checkpoint of size 0")
        targets.append(_Target(cp.size, cp.root, prev))
        prev = cp.size
        st.checkpoints += 1
    if targets:
        st.size, st.root = targets[-1].size, targets[-1].root
        st.witnesses = tuple(k.vkey for k in cosigned)
    if min_witnesses and len(cosigned) < min_witnesses:
        raise _Bad(
            None,
            f"the latest checkpoint has {len(cosigned)} witness cosignature(s); "
            f"policy needs {min_witnesses}",
        )
    if trusted_checkpoint is not None:
        _note, tcp, _ = _check_checkpoint(
            trusted_checkpoint, chain, witnesses, "trusted checkpoint"
        )
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
                if t.trusted:
                    raise _Bad(
                        None,
                        f"fork: the log's first {t.size} entries do not match the trusted "
                        "checkpoint (history rewritten)",
                    )
                raise _Bad(
                    t.prev,
                    f"the first {t.size} entries do not hash to signed checkpoint {t.size}: an "
                    f"entry in {t.prev}..{t.size - 1} was altered, inserted, removed or reordered",
                )
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


# --------------------------------------------------------------------------- deep

_W_KEYS: list[VerifierKey] = []


def _init_worker(vkeys: list[str]) -> None:
    global _W_KEYS
    _W_KEYS = [parse_vkey(k) for k in vkeys]


def _check_chunk(
    chunk: list[tuple[int, bytes, str | None, str | None]],
) -> tuple[int, int | None, str | None]:
    keys = _W_KEYS
    for n, (idx, raw, ptype, subject) in enumerate(chunk):
        try:
            env = Envelope.from_bytes(raw)
            verify_envelope(env, keys)
            info = statement_info(env)
        except DocketError as exc:
            return n, idx, f"entry signature or statement invalid: {exc.message}"
        if ptype is not None and ptype != info.predicate_type:
            return n, idx, "the indexed predicate type does not match the entry"
        if subject is not None and subject != info.subject_name:
            return n, idx, "the indexed subject name does not match the entry"
    return len(chunk), None, None


def _verify_deep(
    source: LogSource,
    keys: list[VerifierKey],
    progress: Callable[[int], None] | None,
    workers: int | None,
    st: _State,
) -> None:
    vkeys = [k.vkey for k in keys]
    nworkers = workers or os.cpu_count() or 1
    parallel = nworkers > 1 and source.entry_count() >= _DEEP_PARALLEL_MIN
    with closing(_chunks(source)) as chunks:
        if not parallel:
            _init_worker(vkeys)
            _drain((_check_chunk(c) for c in chunks), progress, st)
            return
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(nworkers, initializer=_init_worker, initargs=(vkeys,)) as pool:
            _drain(_windowed(pool, chunks, 4 * nworkers), progress, st)


def _chunks(
    source: LogSource,
) -> IndexedBatches:
    with closing(source.iter_indexed()) as batches:
        for batch in batches:
            for i in range(0, len(batch), _DEEP_CHUNK):
                yield batch[i : i + _DEEP_CHUNK]


def _windowed(
    pool: Any,
    chunks: IndexedBatches,
    window: int,
) -> Iterator[tuple[int, int | None, str | None]]:
    pending: list[Any] = []
    for chunk in chunks:
        pending.append(pool.apply_async(_check_chunk, (chunk,)))
        if len(pending) >= window:
            yield pending.pop(0).get()
    while pending:
        yield pending.pop(0).get()


def _drain(
    results: Iterator[tuple[int, int | None, str | None]],
    progress: Callable[[int], None] | None,
    st: _State,
) -> None:
    for n, bad_index, reason in results:
        st.signatures += n
        if progress is not None:
            progress(n)
        if bad_index is not None:
            raise _Bad(bad_index, reason or "entry invalid")

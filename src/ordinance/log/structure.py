"""Structural verification of a log: checkpoints (signatures by the active key, witness
cosignatures, quorum), then every entry in order (contiguous indices, leaf hashes, the Merkle
root at every checkpoint size), in this process or on worker processes over ranges."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass

from sqlalchemy import Engine, func, or_, select

from ordinance.errors import InputError, VerificationError
from ordinance.log import merkle
from ordinance.log._verifying import _as_bytes, _Bad, _first, _fork_ok, _State, _windowed
from ordinance.log.keychain import _active_key, _key_chain
from ordinance.log.note import Checkpoint, SignedNote, verify_cosignatures, verify_note
from ordinance.log.sources import DbSource, LogSource
from ordinance.signing import (
    VerifierKey,
)

_CHUNK_LEVEL = 16
_CHUNK = 1 << _CHUNK_LEVEL


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

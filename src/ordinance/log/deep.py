"""Deep verification of a log: every entry's DSSE signatures (on all CPU cores), its
statement parsed strictly, the index columns compared with it, and the semantic checks of
:mod:`ordinance.log.semantics` applied in log order."""

from __future__ import annotations

import binascii
import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from typing import Any

from ordinance import uris
from ordinance.errors import InputError
from ordinance.log._verifying import _PAE_PREFIX, _as_bytes, _Bad, _fork_ok, _State, _windowed
from ordinance.log.dsse import PAYLOAD_TYPE_INTOTO, _check_statement
from ordinance.log.facts import Facts, Malformed, entry_facts, strict_loads
from ordinance.log.semantics import Deferred, SemanticError, SemanticState
from ordinance.log.sources import _DEEP_CHUNK, LogSource
from ordinance.signing import (
    VerifierKey,
    b64decode,
    ed25519_verify,
    parse_vkey,
)

_DEEP_PARALLEL_MIN = 4_000


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

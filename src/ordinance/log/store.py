"""The transparency log over SQL (SQLite or PostgreSQL), with SQLAlchemy Core.

The tables are in :mod:`ordinance.log.schema`, entries in :mod:`ordinance.log.entries`, the
driver-level SQL of the hot paths in :mod:`ordinance.log.queries`. An append is one
transaction holding the writer lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``pg_advisory_xact_lock``): leaves, nodes and the signed checkpoint, or nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ordinance.errors import InfrastructureError, InputError, NotFoundError, VerificationError
from ordinance.log import merkle
from ordinance.log.dsse import (
    PREDICATE_KEY_CHANGE,
    make_statement,
    sign_statement,
)
from ordinance.log.entries import (
    LogEntry,
    _columns,
    _entry_from_row,
    _plain_columns,
    _prepare,
    _since_ts,
    _ts,
)
from ordinance.log.note import Checkpoint, NoteSignature, SignedNote, sign_note
from ordinance.log.proof import TlogProof
from ordinance.log.queries import (
    _PG_NODES,
    _all_checkpoints,
    _fetch_nodes,
    _fetch_nodes_raw,
    _head,
    _pg_node_arrays,
    _pipelines,
    _Sql,
    _sql,
    _with_cosignatures,
)
from ordinance.log.schema import (
    APPEND_LOCK_KEY,
    checkpoints_t,
    cosignatures_t,
    entries_t,
)
from ordinance.log.trusted import (
    TrustedHead,
    advance,
    load_head,
    save_head,
)
from ordinance.signing import Signer, VerifierKey, load_signer, parse_vkey

__all__ = [
    "TransparencyLog",
    "open_log",
]


def _default_clock() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- the log


class TransparencyLog:
    """A signed, append-only Merkle log of DSSE envelopes. The constructor does no I/O."""

    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        origin: str,
        *,
        clock: Callable[[], datetime] = _default_clock,
        trust_path: Path | None = None,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._origin = origin
        self._clock = clock
        self._trust_path = trust_path
        self._trusted: TrustedHead | None = None
        self._trust_lock = threading.Lock()  # threads of one server share this object
        # what our own last append produced (from the trusted frontier and our own bytes):
        # adopted as the trusted head once its checkpoint is seen committed
        self._pending: TrustedHead | None = None
        self._proven: dict[int, bytes] = {}
        self._checked_head: tuple[str, str, str] | None = None
        self._proof_size = 0  # the tree size the last proof saw (PostgreSQL sends it ahead)

    @classmethod
    def reader(
        cls,
        engine: Engine,
        vkey: str | VerifierKey,
        origin: str,
        *,
        trust_path: Path | None = None,
    ) -> TransparencyLog:
        """A log that can read, prove and verify but not append (no private key needed)."""
        key = vkey if isinstance(vkey, VerifierKey) else parse_vkey(vkey)
        return cls(engine, _ReadOnlySigner(key), origin, trust_path=trust_path)

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def signer(self) -> Signer:
        return self._signer

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def vkey(self) -> str:
        return VerifierKey(self._signer.name, self._signer.sigtype, self._signer.public_key).vkey

    # ----------------------------------------------------------------- appends

    def append_statements(
        self, statements: Sequence[dict[str, Any]], signers: Sequence[Signer] | None = None
    ) -> list[int]:
        """DSSE-sign each statement (default: with the log key) and append them as one batch."""
        envs, cols = self._sign_all(statements, signers)
        return self._append(envs, cols, [self._signer])

    def append_statements_in(
        self,
        conn: Connection,
        statements: Sequence[dict[str, Any]],
        signers: Sequence[Signer] | None = None,
    ) -> list[int]:
        """Append inside the caller's transaction on ``conn``; nothing is committed here.

        The caller's other writes, these entries and their checkpoint then commit together
        or not at all. ``conn`` must be in a transaction: on SQLite begun with
        ``BEGIN IMMEDIATE`` (``execution_options(sqlite_begin="IMMEDIATE")``) so the writer
        lock is held from the start; on PostgreSQL this takes the log's advisory
        transaction lock. Keep the transaction short: appends by others wait for it.
        """
        envs, cols = self._sign_all(statements, signers)
        return self._append_in(conn, envs, cols)

    def append_envelopes_in(self, conn: Connection, envelopes: Sequence[bytes]) -> list[int]:
        """:meth:`append_envelopes` inside the caller's transaction on ``conn`` (see
        :meth:`append_statements_in`); nothing is committed here."""
        envs = [bytes(e) for e in envelopes]
        return self._append_in(conn, envs, [_columns(_prepare(e)) for e in envs])

    def _append_in(
        self, conn: Connection, envs: list[bytes], cols: list[tuple[str, str, str]]
    ) -> list[int]:
        if not envs:
            return []
        if not conn.in_transaction():
            raise InputError("append_statements_in needs a connection inside a transaction")
        try:
            return self._append_on(conn, envs, cols, [self._signer], self._signer)
        except IntegrityError as exc:
            raise InfrastructureError(f"log append conflict: {_first_line(exc)}") from exc
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"log append failed: {_first_line(exc)}") from exc

    def append_envelopes(self, envelopes: Sequence[bytes]) -> list[int]:
        """Append pre-signed envelopes (bytes stored verbatim) in one transaction."""
        envs = [bytes(e) for e in envelopes]
        cols = [_columns(_prepare(e)) for e in envs]
        return self._append(envs, cols, [self._signer])

    def _sign_all(
        self, statements: Sequence[dict[str, Any]], signers: Sequence[Signer] | None
    ) -> tuple[list[bytes], list[tuple[str, str, str]]]:
        use = list(signers) if signers else [self._signer]
        envs: list[bytes] = []
        cols: list[tuple[str, str, str]] = []
        for stmt in statements:
            env = sign_statement(stmt, use)
            envs.append(env)
            # the index columns straight from the statement when they are plain strings
            # (what the envelope's payload parses back to); otherwise parse the envelope
            cols.append(_plain_columns(stmt) or _columns(_prepare(env)))
        return envs, cols

    def rotate_key(self, new_signer: Signer, *, reason: str = "", actor: str = "") -> int:
        """Append a key-change entry (signed by the old and the new key) and switch keys.

        The checkpoint of that batch is signed by the new key first, then the old one; from
        then on only the new key signs.
        """
        old = self._signer
        if new_signer.name != old.name:
            raise InputError("a rotated log key must keep the log's key name (its origin)")
        old_vkey = self.vkey
        new_vkey = VerifierKey(new_signer.name, new_signer.sigtype, new_signer.public_key).vkey
        stmt = make_statement(
            self._origin,
            hashlib.sha256(new_vkey.encode()).hexdigest(),
            PREDICATE_KEY_CHANGE,
            {
                "old_vkey": old_vkey,
                "new_vkey": new_vkey,
                "reason": reason,
                "actor": actor,
                "time": _ts(self._clock()),
            },
        )
        env = sign_statement(stmt, [old, new_signer])
        (index,) = self._append(
            [env], [_columns(_prepare(env))], [new_signer, old], expect_signer=old
        )
        self._signer = new_signer
        return index

    def _append(
        self,
        envs: list[bytes],
        cols: list[tuple[str, str, str]],
        signers: list[Signer],
        *,
        expect_signer: Signer | None = None,
    ) -> list[int]:
        if not envs:
            return []
        try:
            conn_cm = self._engine.connect().execution_options(sqlite_begin="IMMEDIATE")
            with conn_cm as conn, conn.begin():
                out = self._append_on(conn, envs, cols, signers, expect_signer or signers[0])
        except IntegrityError as exc:
            raise InfrastructureError(f"log append conflict: {_first_line(exc)}") from exc
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"log append failed: {_first_line(exc)}") from exc
        return out

    def _append_on(
        self,
        conn: Connection,
        envs: list[bytes],
        cols: list[tuple[str, str, str]],
        signers: list[Signer],
        expect: Signer,
    ) -> list[int]:
        """Lock, read and check the head, insert leaves, nodes and the signed checkpoint.

        Runs on ``conn`` in its current transaction; commits nothing. Driver-level SQL with
        ``executemany``: the per-row cost is the DBAPI's, not the SQL layer's.
        """
        sql = _sql(conn)
        dbapi = conn.dialect.loaded_dbapi
        # the transaction's own DBAPI cursor: no per-statement SQL-layer overhead
        cur = conn.connection.cursor()
        try:
            if conn.dialect.name == "postgresql":
                cur.execute(sql.lock, (APPEND_LOCK_KEY,))
            cur.execute(sql.head)
            row = cur.fetchone()
            if row is None:
                size, old_root, note_text = 0, merkle.EMPTY_ROOT, None
            else:
                size, old_root, note_text = int(row[0]), bytes(row[1]), str(row[2])
                self._check_head(note_text, expect)

            def run(query: str, params: Any) -> list[Any]:
                cur.execute(query, params)
                return list(cur.fetchall())

            # never extend a tree we have not verified: from the trusted head to this one
            trusted = self._advance(run, sql, size, old_root, note_text)
            frontier = list(trusted.frontier)
            now = _ts(self._clock())
            sha = hashlib.sha256
            lhs = [sha(b"\x00" + e).digest() for e in envs]
            created, new_frontier = merkle.append_leaves(size, frontier, lhs)
            new_size = size + len(envs)
            root = merkle.fold(new_frontier)
            rows = [
                (size + i, lh, env, c[0], c[1], c[2], now)
                for i, (env, lh, c) in enumerate(zip(envs, lhs, cols, strict=True))
            ]
            if len(rows) == 1:
                cur.execute(sql.insert_entry, rows[0])
            else:
                cur.executemany(sql.insert_entry, rows)
            if len(created) == 1:
                cur.execute(sql.insert_node, created[0])
            elif created:
                cur.executemany(sql.insert_node, created)
            signed = sign_note(Checkpoint(self._origin, new_size, root).text(), signers)
            rendered = signed.render()
            cur.execute(sql.insert_checkpoint, (new_size, root, rendered, now))
        except dbapi.IntegrityError as exc:
            raise InfrastructureError(f"log append conflict: {_first_line(exc)}") from exc
        except dbapi.Error as exc:
            raise InfrastructureError(f"log append failed: {_first_line(exc)}") from exc
        finally:
            cur.close()
        # the new head extends the trusted frontier with our own bytes: trusted as soon as
        # it is seen committed (a rolled-back transaction leaves it unseen and unused);
        # likewise the note we just wrote passes the head check for its first signer
        self._pending = replace(
            trusted, size=new_size, root=root, frontier=tuple(new_frontier), note=rendered
        )
        self._checked_head = (rendered, signers[0].name, signers[0].key_id)
        return list(range(size, new_size))

    # ----------------------------------------------------------------- the trusted head

    def _own_keys(self) -> list[VerifierKey]:
        return [VerifierKey(self._signer.name, self._signer.sigtype, self._signer.public_key)]

    def _trusted_start(self) -> TrustedHead:
        if self._trusted is None:
            loaded = None
            if self._trust_path is not None:
                loaded = load_head(self._trust_path, self._own_keys(), self._origin)
            self._trusted = loaded or TrustedHead()
        return self._trusted

    def _advance(
        self,
        run: Callable[[str, Any], list[Any]],
        sql: _Sql,
        size: int,
        root: bytes,
        note_text: str | None,
        start: TrustedHead | None = None,
    ) -> TrustedHead:
        """Verify the log from the trusted head up to the stored head ``note_text`` (see
        :func:`ordinance.log.trusted.advance`) and keep the new head.

        ``start`` is the trusted head taken *before* the stored head was read: another
        thread may verify a newer head meanwhile, and comparing an older read with it would
        look like a rollback.
        """
        t = start if start is not None else self._trusted_start()
        pending = self._pending
        if pending is not None and note_text == pending.note and pending.size > t.size:
            t = self._set_trusted(pending)
        new = advance(
            t, run, sql.entry_range, size, root, note_text, self._own_keys(), self._origin
        )
        return t if new is t else self._set_trusted(new)

    def _set_trusted(self, head: TrustedHead) -> TrustedHead:
        with self._trust_lock:
            current = self._trusted
            if current is not None and head.size < current.size:
                return head  # another thread verified a newer head meanwhile: keep it
            self._trusted = head
            if self._pending is not None and self._pending.size <= head.size:
                self._pending = None
            if self._trust_path is not None:
                save_head(self._trust_path, head)
        return head

    def trusted_head(self) -> TrustedHead:
        """Verify the log incrementally up to its newest checkpoint; the verified head."""
        with self._read() as conn:
            return self._refresh(conn)

    def _refresh(self, conn: Connection) -> TrustedHead:
        sql = _sql(conn)
        start = self._trusted_start()  # before the head is read (see _advance)
        size, root, note = _head(conn)

        def run(query: str, params: Any) -> list[Any]:
            return list(conn.exec_driver_sql(query, params).all())

        return self._advance(run, sql, size, root, note, start=start)

    def verified_entries(self, indices: Sequence[int]) -> dict[int, LogEntry]:
        """The entries at ``indices``, each proven part of the verified tree.

        Raises :class:`VerificationError` naming the entry when one is missing, lies beyond
        the signed tree, or its stored bytes are not the bytes the log signed.
        """
        want = sorted(set(indices))
        if not want:
            return {}
        with self._read() as conn:
            trusted = self._refresh(conn)
            rows: list[Any] = []
            for pos in range(0, len(want), 500):
                part = want[pos : pos + 500]
                rows += conn.execute(select(entries_t).where(entries_t.c.idx.in_(part))).all()
            found = {int(r.idx): r for r in rows}
            for i in want:
                if i not in found or i >= trusted.size:
                    raise VerificationError(
                        f"log entry {i} is not in the signed log (size {trusted.size})", index=i
                    )
            return self._proven_entries(conn, [found[i] for i in want], trusted)

    def verified_entries_about(
        self,
        *,
        subject: str | None = None,
        subject_prefix: str | None = None,
        predicate_types: Sequence[str] = (),
    ) -> list[LogEntry]:
        """Entries of the verified tree about one subject (or subjects starting with a
        prefix) and of the given predicate types, in log order, each proven included.

        The selection uses the log's own index columns, which are append-only (triggers)
        and are compared with the signed statement of every entry returned.
        """
        q = select(entries_t).order_by(entries_t.c.idx)
        if subject is not None:
            q = q.where(entries_t.c.subject_name == subject)
        if subject_prefix is not None:
            # a range, so the (subject_name, logged_at) index serves it on both backends
            q = q.where(
                entries_t.c.subject_name >= subject_prefix,
                entries_t.c.subject_name < subject_prefix + "\U0010ffff",
            )
        if predicate_types:
            q = q.where(entries_t.c.predicate_type.in_(list(predicate_types)))
        with self._read() as conn:
            trusted = self._refresh(conn)
            rows = conn.execute(q.where(entries_t.c.idx < trusted.size)).all()
            got = self._proven_entries(conn, rows, trusted)
        return [got[int(r.idx)] for r in rows]

    def _proven_entries(
        self, conn: Connection, rows: Sequence[Any], trusted: TrustedHead
    ) -> dict[int, LogEntry]:
        """Check each row's bytes are included in the trusted tree (one batched node
        lookup for every inclusion path), parse them and compare the index columns."""
        sha = hashlib.sha256
        leaf: dict[int, bytes] = {}
        todo: list[int] = []
        for r in rows:
            i = int(r.idx)
            lh = sha(b"\x00" + bytes(r.envelope)).digest()
            leaf[i] = lh
            known = self._proven.get(i)
            if known is None:
                todo.append(i)
            elif known != lh:
                raise VerificationError(
                    f"log entry {i} was edited: its bytes are not the ones the log signed",
                    index=i,
                )
        if todo:
            plans = {i: merkle.inclusion_plan(i, trusted.size) for i in todo}
            need = [n for plan in plans.values() for element in plan for n in element]
            try:
                nodes = _fetch_nodes(conn, need) if need else {}
            except VerificationError:
                nodes = {}
            for i, plan in plans.items():
                try:
                    proof = merkle.resolve(plan, nodes)
                except KeyError:
                    proof = []
                if not merkle.verify_inclusion(i, trusted.size, leaf[i], proof, trusted.root):
                    raise VerificationError(
                        f"log entry {i} was edited: its bytes are not the ones the log signed "
                        f"(no inclusion in the checkpoint at size {trusted.size})",
                        index=i,
                    )
                self._proven[i] = leaf[i]
        out: dict[int, LogEntry] = {}
        for r in rows:
            i = int(r.idx)
            try:
                entry = _entry_from_row(r)
            except InputError as exc:
                raise VerificationError(f"log entry {i}: {exc.message}", index=i) from None
            info_cols = _plain_columns(entry.statement) or (
                entry.predicate_type,
                entry.subject_name,
                entry.subject_digest,
            )
            if (r.predicate_type, r.subject_name) != info_cols[:2]:
                raise VerificationError(
                    f"log entry {i}: its index columns do not match its signed statement",
                    index=i,
                )
            out[i] = entry
        return out

    def _check_head(self, note_text: str, signer: Signer) -> None:
        if self._checked_head == (note_text, signer.name, signer.key_id):
            return
        note = SignedNote.parse(note_text)
        cp = Checkpoint.from_text(note.text)
        if cp.origin != self._origin:
            raise InputError(f"this log's origin is {cp.origin!r}, not {self._origin!r}")
        first = note.signatures[0]
        if (first.name, first.key_id.hex()) != (signer.name, signer.key_id):
            raise InputError(
                f"the log is signed by key {first.name}+{first.key_id.hex()}, not by "
                f"{signer.name}+{signer.key_id} (rotated? reload the log key)"
            )
        self._checked_head = (note_text, signer.name, signer.key_id)

    # ----------------------------------------------------------------- reads

    def size(self) -> int:
        with self._read() as conn:
            return _head(conn)[0]

    def root(self) -> bytes:
        with self._read() as conn:
            return _head(conn)[1]

    def entry(self, index: int) -> LogEntry:
        with self._read() as conn:
            row = conn.execute(select(entries_t).where(entries_t.c.idx == index)).first()
        if row is None:
            raise NotFoundError(f"no log entry {index}")
        return _entry_from_row(row)

    def entries(
        self,
        model: str | None = None,
        since: datetime | date | str | None = None,
        predicate_type: str | None = None,
        *,
        page: int = 1000,
        after: int = -1,
    ) -> Iterator[LogEntry]:
        """Entries in log order, filtered by subject name, logged time and predicate type,
        from index ``after + 1``."""
        q = select(entries_t).order_by(entries_t.c.idx)
        if model is not None:
            q = q.where(entries_t.c.subject_name == model)
        if since is not None:
            q = q.where(entries_t.c.logged_at >= _since_ts(since))
        if predicate_type is not None:
            q = q.where(entries_t.c.predicate_type == predicate_type)
        last = after
        while True:
            with self._read() as conn:
                rows = conn.execute(q.where(entries_t.c.idx > last).limit(page)).all()
            for row in rows:
                yield _entry_from_row(row)
            if len(rows) < page:
                return
            last = int(rows[-1].idx)

    def latest_checkpoint(self) -> str:
        """The newest signed checkpoint note, with any witness cosignatures."""
        with self._read() as conn:
            size, _root, note = _head(conn)
            if note is None:
                raise NotFoundError("the log is empty: no checkpoint yet")
            return _with_cosignatures(conn, size, note)

    def checkpoint(self, size: int) -> str:
        with self._read() as conn:
            note = conn.execute(
                select(checkpoints_t.c.note).where(checkpoints_t.c.tree_size == size)
            ).scalar()
            if note is None:
                raise NotFoundError(f"no checkpoint at tree size {size}")
            return _with_cosignatures(conn, size, note)

    def checkpoints(self) -> list[str]:
        """Every checkpoint, oldest first, with their cosignatures."""
        with self._read() as conn:
            return _all_checkpoints(conn)

    def prove(self, index: int, size: int | None = None) -> str:
        """A C2SP tlog-proof for entry ``index`` against the latest (or the given) checkpoint.

        Two driver-level queries on a pooled connection: the checkpoint with its
        cosignatures, then every proof node (leaf hashes and stored nodes) at once. On
        PostgreSQL they run in autocommit (no BEGIN/ROLLBACK round trips) and, when the tree
        size is known in advance (the given ``size``, or the size the last proof saw: right
        whenever nothing was appended since), go out together in one pipelined round trip;
        otherwise the nodes follow in a second one. The nodes a checkpoint commits to never
        change, so no snapshot is needed.
        """
        sql = _sql(self._engine)
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        raw = self._raw()
        driver = raw.driver_connection
        pg = sql.ph == "%s"
        autocommit = pg and not driver.autocommit
        guess = size if size is not None else self._proof_size
        send_ahead = pg and 0 <= index < guess and _pipelines()
        plan = merkle.inclusion_plan(index, guess) if send_ahead else None
        found: dict[merkle.Node, bytes] | None = None
        try:
            if autocommit:
                driver.autocommit = True
            cur = raw.cursor()

            def run(query: str, params: Any) -> list[Any]:
                cur.execute(query, params)
                return list(cur.fetchall())

            with driver.pipeline() if plan is not None else nullcontext():
                if size is None:
                    cur.execute(sql.head_with_cosignatures)
                else:
                    cur.execute(sql.checkpoint_with_cosignatures, (size,))
                if plan is not None:
                    ahead = raw.cursor()
                    ahead.execute(_PG_NODES, _pg_node_arrays([n for e in plan for n in e]))
            # the pipeline's end sent everything and read every result: one round trip
            rows = cur.fetchall()
            if plan is not None:
                found = {(int(lv), int(ix)): bytes(h) for lv, ix, h in ahead.fetchall()}
                ahead.close()
                if any(n not in found for e in plan for n in e):
                    found = None  # a guessed size beyond this tree: ask again below
            if not rows:
                raise NotFoundError(
                    "the log is empty: no checkpoint yet"
                    if size is None
                    else f"no checkpoint at tree size {size}"
                )
            size = int(rows[0][0])
            full = str(rows[0][2]) + "".join(str(r[3]) for r in rows if r[3] is not None)
            if not 0 <= index < size:
                raise NotFoundError(f"no log entry {index} in a tree of size {size}")
            if found is None or size != guess:
                plan = merkle.inclusion_plan(index, size)
                found = _fetch_nodes_raw(run, sql, [n for element in plan for n in element])
            assert plan is not None
            self._proof_size = size
            cur.close()
        except dbapi_error as exc:
            raise InfrastructureError(f"database error: {_first_line(exc)}") from exc
        finally:
            if autocommit:
                try:
                    driver.autocommit = False
                except dbapi_error:
                    raw.invalidate()  # never hand an autocommit connection back to the pool
            raw.close()
        return TlogProof(index, tuple(merkle.resolve(plan, found)), full).render()

    def consistency(self, old: int, new: int) -> list[bytes]:
        """RFC 6962 consistency proof between tree sizes ``old`` and ``new``."""
        with self._read() as conn:
            size = _head(conn)[0]
            if not 0 < old <= new <= size:
                raise InputError(f"need 0 < old <= new <= {size}, got {old}, {new}")
            plan = merkle.consistency_plan(old, new)
            found = _fetch_nodes(conn, [n for element in plan for n in element])
        return merkle.resolve(plan, found)

    def root_at(self, size: int) -> bytes:
        """The root of the first ``size`` entries, from stored nodes."""
        with self._read() as conn:
            if size > _head(conn)[0]:
                raise InputError(f"the log has fewer than {size} entries")
            return merkle.compute_root_at(size, lambda nodes: _fetch_nodes(conn, nodes))

    # ----------------------------------------------------------------- witnesses

    def add_cosignature(self, size: int, line: NoteSignature) -> None:
        """Store a witness's cosignature line for the checkpoint at ``size``."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(cosignatures_t),
                    {
                        "tree_size": size,
                        "key_name": line.name,
                        "key_id": line.key_id.hex(),
                        "line": line.line(),
                        "created_at": _ts(self._clock()),
                    },
                )
        except IntegrityError as exc:
            raise InputError(
                f"checkpoint {size} is missing or already cosigned by {line.name}"
            ) from exc

    def witness(
        self,
        witness: Signer,
        log_keys: Sequence[VerifierKey],
        last_seen: str | None = None,
        *,
        timestamp: int | None = None,
    ) -> tuple[NoteSignature, str]:
        """Act as a witness: check the latest checkpoint against ``last_seen`` and cosign it.

        Returns the cosignature and the new state to keep (the checkpoint with this
        cosignature). Survives log key rotations (see :func:`ordinance.log.witness.cosign_latest`).
        """
        from ordinance.log.witness import cosign_latest

        return cosign_latest(self, witness, log_keys, last_seen, timestamp=timestamp)

    # ----------------------------------------------------------------- audit

    def verify(
        self,
        vkey: str | VerifierKey,
        trusted_checkpoint: str | None = None,
        witness_vkeys: Sequence[str | VerifierKey] = (),
        min_witnesses: int = 0,
        deep: bool = False,
        progress: Callable[[int], None] | None = None,
        *,
        entry_vkeys: Sequence[str | VerifierKey] = (),
        workers: int | None = None,
    ) -> Any:
        """Verify the whole log (see :func:`ordinance.log.verify.verify_source`)."""
        from ordinance.log.sources import DbSource
        from ordinance.log.verify import verify_source

        return verify_source(
            DbSource(self._engine),
            vkey,
            trusted_checkpoint=trusted_checkpoint,
            witness_vkeys=witness_vkeys,
            min_witnesses=min_witnesses,
            deep=deep,
            progress=progress,
            entry_vkeys=entry_vkeys,
            workers=workers,
        )

    def export(self, out_dir: Path) -> Path:
        """Write an offline audit bundle (entries, checkpoints, vkey) to ``out_dir``."""
        from ordinance.log.bundle import export_bundle

        return export_bundle(self, Path(out_dir))

    # ----------------------------------------------------------------- helpers

    def _raw(self) -> Any:
        """A pooled DBAPI connection (close() returns it to the pool, rolled back)."""
        try:
            return self._engine.raw_connection()
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"database unreachable: {_first_line(exc)}") from exc

    def _read(self) -> Connection:
        try:
            return self._engine.connect()
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"database unreachable: {_first_line(exc)}") from exc


class _ReadOnlySigner:
    """Stands in for the log key when only reading: has the public half, refuses to sign."""

    def __init__(self, key: VerifierKey) -> None:
        self._key = key

    @property
    def name(self) -> str:
        return self._key.name

    @property
    def key_id(self) -> str:
        return self._key.key_id

    @property
    def sigtype(self) -> int:
        return self._key.sigtype

    @property
    def public_key(self) -> bytes:
        return self._key.public_key

    def sign(self, message: bytes) -> bytes:
        raise InputError("this log was opened read-only (no private key): cannot append")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def open_log(
    engine: Engine,
    key_path: Path,
    origin: str,
    passphrase: str | bytes | None = None,
    *,
    clock: Callable[[], datetime] = _default_clock,
    trust_path: Path | None = None,
) -> TransparencyLog:
    """The workspace's log: load the log key (its name must be the origin) and wrap the engine.

    ``trust_path`` keeps the verified head between runs (see :mod:`ordinance.log.trusted`)."""
    signer = load_signer(Path(key_path), passphrase)
    if signer.name != origin:
        raise InputError(
            f"log key {key_path} is named {signer.name!r} but the log origin is {origin!r}"
        )
    return TransparencyLog(engine, signer, origin, clock=clock, trust_path=trust_path)

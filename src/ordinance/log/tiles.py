"""C2SP tlog-tiles: the log as static files any web server can publish.

Layout under a prefix (``c2sp.org/tlog-tiles``)::

    checkpoint                      the latest signed checkpoint (text/plain; charset=utf-8)
    tile/<L>/<N>[.p/<W>]            hashes at tree height 8·L: 256 (full) or W (partial) × 32 bytes
    tile/entries/<N>[.p/<W>]        entry bundles: each entry as u16be length || envelope bytes

``<N>`` is written in 3-digit groups, all but the last prefixed with ``x`` (``x001/x234/067``).
A level-0 tile holds leaf hashes; a level-L tile the Merkle Tree Hash of each *full* tile at
the level below. Partial tiles are written for the latest checkpoint's size only (the spec's
"tree sizes for which a checkpoint was produced"; full tiles supersede earlier partial ones).

:func:`export_tiles` writes the tree from the database, recomputing every hash from the
stored envelopes and refusing to finish unless the root equals the signed checkpoint's.
:func:`read_tile` answers the same paths from the database (for ``ordinance serve``).
An entry bundle cannot hold an entry over 65,535 bytes (u16 length); such a log cannot be
exported as tiles and the export says which entry.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ordinance.errors import InfrastructureError, InputError, NotFoundError, VerificationError
from ordinance.log import merkle
from ordinance.log.note import Checkpoint, SignedNote

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ordinance.log.store import TransparencyLog

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileRef",
    "TilesExport",
    "entries_path",
    "export_tiles",
    "parse_tile_path",
    "read_tile",
    "tile_path",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY = 0xFFFF
_sha = hashlib.sha256


def _encode_index(n: int) -> str:
    if n < 0:
        raise InputError(f"tile index {n} is negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{_encode_index(index)}{suffix}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/entries/{_encode_index(index)}{suffix}"


@dataclass(frozen=True)
class TileRef:
    """A parsed tile path: ``level`` is ``None`` for an entry bundle."""

    level: int | None
    index: int
    width: int


_PATH = re.compile(
    r"tile/(?P<level>entries|0|[1-9]\d?)/(?P<index>(?:x\d{3}/)*\d{3})(?:\.p/(?P<w>[1-9]\d{0,2}))?"
)


def parse_tile_path(path: str) -> TileRef:
    """Parse a tile or entry-bundle path strictly (as the spec writes them); InputError if not."""
    m = _PATH.fullmatch(path.lstrip("/"))
    if m is None:
        raise InputError(f"not a tile path: {path!r}")
    groups = m["index"].split("/")
    if any(g.startswith("x") for g in groups[-1:]) or len(groups) > 7:
        raise InputError(f"not a tile path: {path!r}")
    index = int("".join(g.lstrip("x") for g in groups))
    if len(groups) > 1 and groups[0] == "x000":
        raise InputError(f"not a canonical tile index: {path!r}")
    width = int(m["w"]) if m["w"] else TILE_WIDTH
    if m["w"] and width >= TILE_WIDTH:
        raise InputError(f"partial tile width must be 1..255: {path!r}")
    level = None if m["level"] == "entries" else int(m["level"])
    if level is not None and level > 63:
        raise InputError(f"tile level above 63: {path!r}")
    return TileRef(level, index, width)


def _subtree_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a power-of-two run of hashes (256 for a full tile)."""
    level = list(hashes)
    while len(level) > 1:
        level = [_sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


@dataclass(frozen=True)
class TilesExport:
    """What :func:`export_tiles` wrote."""

    size: int
    root: bytes
    tiles: int
    entry_bundles: int

    def to_dict(self) -> dict[str, int | str]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "tiles": self.tiles,
            "entry_bundles": self.entry_bundles,
        }


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.dirs: set[Path] = set()
        self.count = 0

    def write(self, rel: str, data: bytes) -> None:
        path = self.out / rel
        parent = path.parent
        if parent not in self.dirs:
            parent.mkdir(parents=True, exist_ok=True)
            self.dirs.add(parent)
        with open(path, "wb") as f:
            f.write(data)
        self.count += 1


_RANGE = TILE_WIDTH * TILE_WIDTH  # entries per worker task: one full level-1 tile's worth
_PARALLEL_MIN = 4 * _RANGE
_W_ENGINE: Engine | None = None
_W_OUT: Path | None = None
_RANGE_SQL = "SELECT idx, envelope FROM ordinance_log_entry WHERE idx >= ? AND idx < ? ORDER BY idx"

RangeResult = tuple[int | None, str, list[bytes], list[bytes], bytes, int]
"""(bad index, reason, level-1 hashes of full tiles, tail leaf hashes, tail bundle, files)."""


def _range_task(task: tuple[int, int]) -> RangeResult:
    """Entries [start, end): write their full level-0 tiles and entry bundles.

    Returns the Merkle Tree Hash of each full tile (level-1 hashes) and, for a range that
    ends in a partial tile, its leaf hashes and bundle bytes.
    """
    start, end = task
    assert _W_ENGINE is not None and _W_OUT is not None
    raw = _W_ENGINE.raw_connection()
    try:
        pg = _W_ENGINE.dialect.name == "postgresql"
        cur = raw.driver_connection.cursor(binary=True) if pg else raw.cursor()  # type: ignore[union-attr]
        cur.execute(_RANGE_SQL.replace("?", "%s") if pg else _RANGE_SQL, (start, end))
        rows = cur.fetchall()
        cur.close()
    finally:
        raw.close()
    for k, row in enumerate(rows):
        if row[0] != start + k:
            return start + k, f"entry {start + k} is missing", [], [], b"", 0
    if len(rows) != end - start:
        return start + len(rows), f"entry {start + len(rows)} is missing", [], [], b"", 0
    w = _Writer(_W_OUT)
    pack = struct.Struct(">H").pack
    ups: list[bytes] = []
    tail: list[bytes] = []
    tail_bundle = b""
    for t0 in range(0, len(rows), TILE_WIDTH):
        group = [bytes(r[1]) for r in rows[t0 : t0 + TILE_WIDTH]]
        for k, raw_entry in enumerate(group):
            if len(raw_entry) > MAX_ENTRY:
                return (
                    start + t0 + k,
                    f"entry is {len(raw_entry)} bytes; tlog-tiles entry bundles hold at most "
                    f"{MAX_ENTRY} bytes per entry",
                    [],
                    [],
                    b"",
                    0,
                )
        leaves = [_sha(b"\x00" + e).digest() for e in group]
        bundle = b"".join(pack(len(e)) + e for e in group)
        n = (start + t0) // TILE_WIDTH
        if len(group) == TILE_WIDTH:
            w.write(tile_path(0, n), b"".join(leaves))
            w.write(entries_path(n), bundle)
            ups.append(_subtree_root(leaves))
        else:
            tail, tail_bundle = leaves, bundle
    return None, "", ups, tail, tail_bundle, w.count


def export_tiles(log: TransparencyLog, out_dir: Path, *, workers: int | None = None) -> TilesExport:
    """Write the log, as of its latest checkpoint, as a C2SP tlog-tiles tree under ``out_dir``.

    Ranges of 65,536 entries are read, hashed and written by worker processes on a large
    database log (each returns its tiles' hashes); this process builds the upper levels in
    order, checks the root against the signed checkpoint and writes the partial tiles and
    the checkpoint last.
    """
    global _W_ENGINE, _W_OUT
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from ordinance.log._verifying import _fork_ok, _windowed

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if any(out_dir.iterdir()):
            raise InputError(f"{out_dir} is not empty; export tiles into a new directory")
    except OSError as exc:
        raise InfrastructureError(
            f"cannot write tiles to {out_dir}: {exc.strerror or exc}"
        ) from exc
    note_text = log.latest_checkpoint()
    cp = Checkpoint.from_text(SignedNote.parse(note_text).text)
    size = cp.size
    w = _Writer(out_dir)
    levels: list[list[bytes]] = [[], []]  # levels[L] (L >= 1): every level-L hash
    tail: list[bytes] = []
    tail_bundle = b""
    files = 0

    def full_tile(level: int, start: int) -> None:
        hashes = levels[level][start : start + TILE_WIDTH]
        w.write(tile_path(level, start // TILE_WIDTH), b"".join(hashes))
        if len(levels) == level + 1:
            levels.append([])
        levels[level + 1].append(_subtree_root(hashes))
        if len(levels[level + 1]) % TILE_WIDTH == 0:
            full_tile(level + 1, len(levels[level + 1]) - TILE_WIDTH)

    tasks = [(a, min(a + _RANGE, size)) for a in range(0, size, _RANGE)]
    nworkers = workers or os.cpu_count() or 1
    _W_ENGINE, _W_OUT = log.engine, out_dir
    try:
        if nworkers > 1 and size >= _PARALLEL_MIN and _fork_ok():
            ctx = multiprocessing.get_context("fork")
            pool = ProcessPoolExecutor(nworkers, mp_context=ctx, initializer=_init_worker)
            results = _windowed(pool, _range_task, iter(tasks), 2 * nworkers)
        else:
            pool = None
            results = (_range_task(t) for t in tasks)
        try:
            for bad, reason, ups, tail_hashes, bundle, count in results:
                if bad is not None:
                    if "bytes" in reason:
                        raise InputError(f"entry {bad}: {reason}")
                    raise VerificationError(reason, index=bad)
                files += count
                for h in ups:
                    levels[1].append(h)
                    if len(levels[1]) % TILE_WIDTH == 0:
                        full_tile(1, len(levels[1]) - TILE_WIDTH)
                if tail_hashes:
                    tail, tail_bundle = tail_hashes, bundle
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        levels[0] = tail
        base0 = size - len(tail)
        root = _root(levels, base0, size)
        if root != cp.root:
            raise VerificationError(
                f"the entries do not hash to the signed checkpoint {size}: not exporting"
            )
        full0 = files // 2  # workers wrote a level-0 tile and an entry bundle per full tile
        if tail:
            w.write(entries_path(base0 // TILE_WIDTH, len(tail)), tail_bundle)
        for level, hashes in enumerate(levels):
            width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
            if width:
                n = (size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                w.write(tile_path(level, n, width), b"".join(hashes[-width:]))
        with open(out_dir / "checkpoint", "w", encoding="utf-8") as f:
            f.write(note_text)
    except OSError as exc:
        raise InfrastructureError(
            f"cannot write tiles to {out_dir}: {exc.strerror or exc}"
        ) from exc
    finally:
        _W_ENGINE, _W_OUT = None, None
    written_bundles = 1 if tail else 0
    return TilesExport(size, root, full0 + w.count - written_bundles, full0 + written_bundles)


def _init_worker() -> None:
    if _W_ENGINE is not None:  # forked: never reuse the parent's pooled connections
        _W_ENGINE.dispose(close=False)


def _root(levels: list[list[bytes]], base0: int, size: int) -> bytes:
    """The tree root from the per-level hashes (RFC 6962 fold of the perfect subtrees)."""
    if size == 0:
        return merkle.EMPTY_ROOT
    nodes = []
    for lv, idx in merkle.perfect_nodes(0, size):
        big, r = divmod(lv, TILE_HEIGHT)
        start = idx << r
        hashes = levels[big]
        offset = base0 if big == 0 else 0
        nodes.append(_subtree_root(hashes[start - offset : start - offset + (1 << r)]))
    return merkle.fold(nodes)


def read_tile(log: TransparencyLog, path: str) -> tuple[bytes, str]:
    """(body, content type) for a tlog-tiles path, answered from the database.

    ``checkpoint``, ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, byte for byte
    what :func:`export_tiles` writes. A tile beyond the latest checkpoint is NotFoundError;
    a malformed path is InputError.
    """
    from ordinance.log.queries import _fetch_nodes
    from ordinance.log.schema import entries_t

    rel = path.lstrip("/")
    if rel == "checkpoint":
        return log.latest_checkpoint().encode("utf-8"), "text/plain; charset=utf-8"
    ref = parse_tile_path(rel)
    size = log.size()
    level = 0 if ref.level is None else ref.level
    span = 1 << (TILE_HEIGHT * level)  # leaves per hash at this level
    first = ref.index * TILE_WIDTH
    if (first + ref.width) * span > size:
        raise NotFoundError(f"{rel}: beyond the latest checkpoint (size {size})")
    if ref.level is None:
        from sqlalchemy import select

        with log.engine.connect() as conn:
            rows = conn.execute(
                select(entries_t.c.envelope)
                .where(entries_t.c.idx >= first, entries_t.c.idx < first + ref.width)
                .order_by(entries_t.c.idx)
            ).all()
        if len(rows) != ref.width:
            raise NotFoundError(f"{rel}: entries missing")
        body = b"".join(struct.pack(">H", len(bytes(r[0]))) + bytes(r[0]) for r in rows)
        return body, "application/octet-stream"
    height = TILE_HEIGHT * ref.level
    wanted = [(height, first + i) for i in range(ref.width)]
    with log.engine.connect() as conn:
        found = _fetch_nodes(conn, wanted)
    return b"".join(found[n] for n in wanted), "application/octet-stream"

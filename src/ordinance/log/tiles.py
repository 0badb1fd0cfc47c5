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
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ordinance.errors import InfrastructureError, InputError, NotFoundError, VerificationError
from ordinance.log import merkle
from ordinance.log.note import Checkpoint, SignedNote

if TYPE_CHECKING:
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


def export_tiles(log: TransparencyLog, out_dir: Path) -> TilesExport:
    """Write the log, as of its latest checkpoint, as a C2SP tlog-tiles tree under ``out_dir``."""
    from ordinance.log.verify import DbSource

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
    bundles = 0
    levels: list[list[bytes]] = [[]]  # levels[L]: every level-L hash (level 0: current tile only)
    base0 = 0  # index of levels[0][0]
    bundle: list[bytes] = []
    expected = 0
    pack = struct.Struct(">H").pack

    def full_tile(level: int, start: int) -> None:
        """Write levels[level][start:start+256] as a full tile; roll its root up a level."""
        hashes = levels[level][start : start + TILE_WIDTH]
        tile_index = (base0 if level == 0 else start) // TILE_WIDTH
        w.write(tile_path(level, tile_index), b"".join(hashes))
        if len(levels) == level + 1:
            levels.append([])
        levels[level + 1].append(_subtree_root(hashes))
        if len(levels[level + 1]) % TILE_WIDTH == 0:
            full_tile(level + 1, len(levels[level + 1]) - TILE_WIDTH)

    try:
        with closing(DbSource(log.engine).iter_entries()) as batches:
            for batch in batches:
                for idx, env, _ in batch:
                    if idx >= size:
                        break
                    if idx != expected:
                        raise VerificationError(f"entry {expected} is missing", index=expected)
                    raw = bytes(env)
                    if len(raw) > MAX_ENTRY:
                        raise InputError(
                            f"entry {idx} is {len(raw)} bytes; tlog-tiles entry bundles hold at "
                            f"most {MAX_ENTRY} bytes per entry"
                        )
                    levels[0].append(_sha(b"\x00" + raw).digest())
                    bundle.append(pack(len(raw)) + raw)
                    expected += 1
                    if len(levels[0]) == TILE_WIDTH:
                        n = base0 // TILE_WIDTH
                        w.write(entries_path(n), b"".join(bundle))
                        bundles += 1
                        bundle = []
                        full_tile(0, 0)
                        base0 += TILE_WIDTH
                        levels[0] = []
        if expected != size:
            raise VerificationError(
                f"the log has {expected} entries under checkpoint {size}", index=expected
            )
        root = _root(levels, base0, size)
        if root != cp.root:
            raise VerificationError(
                f"the entries do not hash to the signed checkpoint {size}: not exporting"
            )
        # partial tiles for the checkpoint's size
        if levels[0]:
            w.write(entries_path(base0 // TILE_WIDTH, len(levels[0])), b"".join(bundle))
            bundles += 1
        for level, hashes in enumerate(levels):
            width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
            if width:
                n = (size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                part = hashes[-width:]
                w.write(tile_path(level, n, width), b"".join(part))
        with open(out_dir / "checkpoint", "w", encoding="utf-8") as f:
            f.write(note_text)
    except OSError as exc:
        raise InfrastructureError(
            f"cannot write tiles to {out_dir}: {exc.strerror or exc}"
        ) from exc
    return TilesExport(size, root, w.count - bundles, bundles)


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
    from ordinance.log.store import _fetch_nodes, entries_t

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

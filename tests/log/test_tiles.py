"""C2SP tlog-tiles: export a static tree, publish it with a plain web server, and have a client
written from the spec fetch inclusion and consistency proofs that verify."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiles_client import TilesClient

from ordinance.errors import InputError, NotFoundError
from ordinance.log import TransparencyLog, merkle
from ordinance.log.note import Checkpoint, SignedNote, verify_note
from ordinance.log.tiles import (
    entries_path,
    export_tiles,
    parse_tile_path,
    read_tile,
    tile_path,
)
from ordinance.signing import PAYLOAD_TYPE_INTOTO, DsseSignature, Ed25519Signer, Envelope

SIZES = (1, 255, 256, 257, 65_536, 65_791, 70_000)  # checkpoints; 70,000 is the spec's example


def _envelope(i: int) -> bytes:
    payload = (
        b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"n":%d},'
        b'"predicateType":"https://example.com/tiles-test/v1",'
        b'"subject":[{"digest":{"sha256":"%064x"},"name":"m"}]}' % (i, i)
    )
    return Envelope(payload, PAYLOAD_TYPE_INTOTO, (DsseSignature(bytes(64), ""),)).to_bytes()


@pytest.fixture
def grown(log: TransparencyLog) -> TransparencyLog:
    done = 0
    for size in SIZES:
        while done < size:
            step = min(size - done, 20_000)
            log.append_envelopes([_envelope(i) for i in range(done, done + step)])
            done += step
            if done < size:  # one checkpoint per listed size only: merge the batches
                pass
    return log


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "tiles"
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _http(base: str):  # type: ignore[no-untyped-def]
    def fetch(path: str) -> bytes:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            return bytes(resp.read())

    return fetch


def test_paths() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(2, 0, 1) == "tile/2/000.p/1"
    assert entries_path(5, 17) == "tile/entries/005.p/17"
    assert parse_tile_path("tile/1/x001/x234/067.p/12").index == 1234067
    assert parse_tile_path("tile/entries/000").level is None
    for bad in (
        "tile/0/1",
        "tile/0/x001",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/64/000",
        "tile/00/000",
        "tile/0/x000/001",
        "checkpoint/x",
    ):
        with pytest.raises(InputError):
            parse_tile_path(bad)


def test_tiles_export_serve_and_prove(
    grown: TransparencyLog, signer: Ed25519Signer, served: tuple[Path, str]
) -> None:
    root_dir, base = served
    done = export_tiles(grown, root_dir)
    size = SIZES[-1]
    assert done.size == size and done.root == grown.root()
    # the spec's example: a tree of 70,000 has 273 full level-0 tiles, a partial one of
    # width 112, one full level-1 tile, a partial level-1 tile of width 17 and a partial
    # level-2 tile of width 1
    files = {p.relative_to(root_dir).as_posix() for p in root_dir.rglob("*") if p.is_file()}
    level0 = {f for f in files if f.startswith("tile/0/")}
    assert len(level0) == 274 and "tile/0/273.p/112" in level0
    assert {f for f in files if f.startswith("tile/1/")} == {"tile/1/000", "tile/1/001.p/17"}
    assert {f for f in files if f.startswith("tile/2/")} == {"tile/2/000.p/1"}
    assert len({f for f in files if f.startswith("tile/entries/")}) == 274

    fetch = _http(base)
    note = SignedNote.parse(fetch("checkpoint").decode())
    verify_note(note, [signer.verifier])
    cp = Checkpoint.from_text(note.text)
    client = TilesClient(fetch, cp.size)
    assert client.root() == cp.root
    for i in (0, 1, 255, 256, 65_535, 65_536, 65_791, 69_999):
        entry = client.entry(i)
        assert entry == _envelope(i)
        path = client.inclusion(i)
        assert merkle.verify_inclusion(i, cp.size, merkle.leaf_hash(entry), path, cp.root)
        assert not merkle.verify_inclusion(i, cp.size, merkle.leaf_hash(b"x"), path, cp.root)
    for old in SIZES[:-1]:
        old_cp = Checkpoint.from_text(SignedNote.parse(grown.checkpoint(old)).text)
        proof = client.consistency(old)
        assert proof == grown.consistency(old, cp.size)
        assert merkle.verify_consistency(old, cp.size, proof, old_cp.root, cp.root)
    # the server answers the same paths with the same bytes
    for rel in sorted(files):
        body, ctype = read_tile(grown, rel)
        assert body == (root_dir / rel).read_bytes(), rel
        assert ctype.startswith("text/plain") == (rel == "checkpoint")
    with pytest.raises(NotFoundError):
        read_tile(grown, "tile/0/274")
    # the multi-process export (ranges read, hashed and written by workers) writes the same tree
    from ordinance.log import tiles as tiles_mod

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(tiles_mod, "_RANGE", 4 * 256)
        mp.setattr(tiles_mod, "_PARALLEL_MIN", 8 * 256)
        again = export_tiles(grown, root_dir.parent / "tiles-parallel", workers=2)
    finally:
        mp.undo()
    other = root_dir.parent / "tiles-parallel"
    assert again == done
    for rel in sorted(files):
        assert (other / rel).read_bytes() == (root_dir / rel).read_bytes(), rel
    assert {p.relative_to(other).as_posix() for p in other.rglob("*") if p.is_file()} == files
    with pytest.raises(InputError):
        export_tiles(grown, root_dir)  # not empty


def test_export_tiles_refuses_a_tampered_log(log: TransparencyLog, tmp_path: Path) -> None:
    from logtest_support import attack

    log.append_envelopes([_envelope(i) for i in range(300)])
    attack(
        log.engine,
        "UPDATE ordinance_log_entry SET envelope = :e WHERE idx = 7",
        {"e": _envelope(8)},
    )
    from ordinance.errors import VerificationError

    with pytest.raises(VerificationError, match="do not hash to the signed checkpoint"):
        export_tiles(log, tmp_path / "t")


def test_cli_export_tiles(log: TransparencyLog, tmp_path: Path) -> None:
    import json

    from ordinance._cli import main
    from ordinance.workspace import init_workspace

    ws = init_workspace(tmp_path / ".ordinance", origin="ordinance.local/tiles")
    ws.audit_log().append_envelopes([_envelope(i) for i in range(3)])
    ws.close()
    out = tmp_path / "t"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            [
                "--home",
                str(tmp_path / ".ordinance"),
                "log",
                "export",
                "--tiles",
                str(out),
                "--format",
                "json",
            ]
        )
    assert code == 0
    assert json.loads(buf.getvalue())["tiles"]["size"] == 3
    assert (out / "tile" / "0" / "000.p" / "3").stat().st_size == 96
    assert (out / "checkpoint").read_text().startswith("ordinance.local/tiles\n3\n")

"""The evidence store: write-once blobs that always hold their digest, removed only when unreferenced."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from ordinance._files import UnsafeFileError, current_umask
from ordinance.errors import InputError
from ordinance.evidence import EvidenceStore, staged_writes


class _NoLock:
    upgraded = False

    def exclusive(self) -> None:
        self.upgraded = True


def _file(tmp_path: Path, name: str, data: bytes) -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(data)
    return p, hashlib.sha256(data).hexdigest()


def test_blobs_are_write_once(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    src, digest = _file(tmp_path, "a.csv", b"a,b\n1,2\n")
    assert store.put(src, digest) is True
    assert store.put(src, digest) is False
    blob = store.open_path(digest)
    assert blob.read_bytes() == b"a,b\n1,2\n"
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444 & ~current_umask()
    assert [p.name for p in blob.parent.iterdir()] == [digest]  # no temporary left


def test_a_file_changed_after_hashing_is_not_stored(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    src, digest = _file(tmp_path, "a.csv", b"original")
    src.write_bytes(b"swapped after hashing")
    with pytest.raises(InputError, match="changed while it was being stored"):
        store.put(src, digest)
    assert not store.has(digest)
    assert not [p for p in (tmp_path / "ev").rglob("*") if p.is_file()]


def test_special_files_are_never_copied(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeFileError, match="FIFO"):
        store.put(tmp_path / "fifo", "0" * 64)


def test_a_failed_writer_removes_only_unreferenced_blobs(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    mine, d_mine = _file(tmp_path, "mine", b"only mine")
    shared, d_shared = _file(tmp_path, "shared", b"also the winner's")
    lock = _NoLock()
    with (
        pytest.raises(RuntimeError),
        staged_writes(store, lock, lambda ds: {d_shared} & set(ds)) as s,
    ):
        s.put(mine, d_mine)
        s.put(shared, d_shared)  # this writer created it, but a committed row references it
        raise RuntimeError("the registration failed")
    assert lock.upgraded
    assert not store.has(d_mine)
    assert store.has(d_shared)


def test_a_failed_writer_never_removes_blobs_it_did_not_create(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    src, digest = _file(tmp_path, "x", b"first writer's")
    store.put(src, digest)
    with pytest.raises(RuntimeError), staged_writes(store, _NoLock(), lambda ds: set()) as s:
        assert s.put(src, digest) is False
        raise RuntimeError("failed")
    assert store.has(digest)

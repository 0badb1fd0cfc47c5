"""Evidence backends (local and S3 against a real moto server) and streamed, verified uploads."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import S3_ENV, env

from ordinance.errors import InfrastructureError, NotFoundError
from ordinance.evidence import EvidenceStore
from ordinance.storage import (
    DigestMismatch,
    EvidenceBackend,
    EvidenceConfig,
    S3EvidenceStore,
    open_evidence_store,
    receive,
)


@pytest.fixture
def s3_store(tmp_path: Path, s3_bucket: dict[str, str]) -> Iterator[S3EvidenceStore]:
    with env(**S3_ENV):
        store = open_evidence_store(EvidenceConfig.model_validate(s3_bucket), tmp_path / "home")
        assert isinstance(store, S3EvidenceStore)
        yield store


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> EvidenceBackend:
    if request.param == "local":
        return open_evidence_store(EvidenceConfig(), tmp_path / "home")
    store: EvidenceBackend = request.getfixturevalue("s3_store")
    return store


def _blob(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    p = tmp_path / hashlib.sha256(data).hexdigest()[:8]
    p.write_bytes(data)
    return p, hashlib.sha256(data).hexdigest()


def test_put_is_content_addressed_and_deduplicated(
    backend: EvidenceBackend, tmp_path: Path
) -> None:
    src, digest = _blob(tmp_path, b"evidence bytes")
    assert not backend.has(digest)
    with pytest.raises(NotFoundError):
        backend.open_path(digest)
    assert backend.put(src, digest) is True
    assert backend.put(src, digest) is False  # stored once
    assert backend.has(digest)
    assert backend.open_path(digest).read_bytes() == b"evidence bytes"
    backend.remove(digest)
    assert not backend.has(digest)


def test_the_local_backend_is_the_workspace_evidence_store(tmp_path: Path) -> None:
    store = open_evidence_store(EvidenceConfig(path="ev"), tmp_path)
    assert store == EvidenceStore(tmp_path / "ev")


def test_s3_objects_that_do_not_hash_to_their_name_are_refused(
    s3_store: S3EvidenceStore, tmp_path: Path
) -> None:
    src, digest = _blob(tmp_path, b"the real evidence")
    s3_store.put(src, digest)
    with env(**S3_ENV):  # someone rewrites the object in the bucket
        s3_store._s3().put_object(Bucket=s3_store.bucket, Key=s3_store.key(digest), Body=b"forged")
        with pytest.raises(InfrastructureError, match="does not hash to its name"):
            s3_store.open_path(digest)
    assert not s3_store._cache_path(digest).exists()


def test_receive_refuses_a_digest_mismatch_and_leaves_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        receive(iter([b"abc"]), hashlib.sha256(b"abd").hexdigest(), spool)
    assert list(spool.iterdir()) == []
    got = receive(iter([b"a", b"bc"]), hashlib.sha256(b"abc").hexdigest(), spool)
    assert got.path.read_bytes() == b"abc" and got.size == 3


def test_receive_streams_without_holding_the_body_in_memory(tmp_path: Path) -> None:
    chunk = os.urandom(1 << 20)
    n = 128  # 128 MiB through the spool; the peak Python allocation stays around one chunk
    digest = hashlib.sha256()
    for _ in range(n):
        digest.update(chunk)

    def body() -> Iterator[bytes]:
        for _ in range(n):
            yield chunk

    tracemalloc.start()
    try:
        got = receive(body(), digest.hexdigest(), tmp_path / "spool")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.size == n << 20
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB"
    got.path.unlink()

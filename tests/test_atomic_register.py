"""Registration and its log entry commit in one transaction, or not at all (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import small_manifest
from ordinance.errors import InputError
from ordinance.signing import generate_key
from ordinance.workspace import Workspace, init_workspace


def _blobs(ws: Workspace) -> set[Path]:
    return {p for p in (ws.home / "evidence").rglob("*") if p.is_file()}


def test_register_logs_in_the_same_transaction(tmp_path: Path, db_url: str) -> None:
    ws = init_workspace(tmp_path / ".ordinance", db_url=db_url)
    try:
        res = ws.register(small_manifest(tmp_path / "v1", version="1.0.0"))
        assert res.created and res.log_index == 0
        log = ws.audit_log()
        assert log.size() == 1 and len(log.checkpoints()) == 1
        entry = log.entry(0)
        assert entry.subject_name == "toy@1.0.0"
        assert log.verify(ws.vkey(), deep=True).ok
        res2 = ws.register(small_manifest(tmp_path / "v2", version="2.0.0"))
        assert res2.log_index == 1
    finally:
        ws.close()


def test_failed_log_append_writes_no_registry_rows(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / ".ordinance"
    ws = init_workspace(home, db_url=db_url)
    try:
        assert ws.register(small_manifest(tmp_path / "v1", version="1.0.0")).log_index == 0
        registry = ws.registry()
        rows_before = registry.count_rows()
        blobs_before = _blobs(ws)
        # the log key is replaced by another key with the same name: the log's head is signed
        # by the old key, so the append (after the registry rows are inserted) is refused
        ws.log_key_path.unlink()
        ws.log_vkey_path.unlink()
        generate_key(ws.log_key_path, ws.config.log_origin)
        with pytest.raises(InputError, match="signed by key"):
            ws.register(small_manifest(tmp_path / "v2", version="2.0.0"))
        assert registry.count_rows() == rows_before
        with pytest.raises(Exception, match="unknown version"):
            registry.get_version("toy", "2.0.0")
        assert _blobs(ws) == blobs_before  # the new version's evidence blobs are cleaned up
        reader = ws.audit_log()
        assert reader.size() == 1 and len(reader.checkpoints()) == 1
    finally:
        ws.close()


def test_failed_log_append_attaches_no_evidence(tmp_path: Path, db_url: str) -> None:
    ws = init_workspace(tmp_path / ".ordinance", db_url=db_url)
    try:
        ws.register(small_manifest(tmp_path / "v1", version="1.0.0"))
        registry = ws.registry()
        rows_before = registry.count_rows()
        blobs_before = _blobs(ws)
        report = tmp_path / "validation.md"
        report.write_text("# independent validation\nall good\n")
        # a different log key: the append after the evidence row is refused
        ws.log_key_path.unlink()
        ws.log_vkey_path.unlink()
        generate_key(ws.log_key_path, ws.config.log_origin)
        with pytest.raises(InputError, match="signed by key"):
            ws.attach_evidence("toy", "1.0.0", report, kind="validation_report")
        assert registry.count_rows() == rows_before
        names = [e.name for e in registry.get_version("toy", "1.0.0").evidence]
        assert "validation.md" not in names
        assert _blobs(ws) == blobs_before
        assert ws.audit_log().size() == 1
    finally:
        ws.close()

"""8 processes registering the same and different manifests at once, on both backends.

Exactly one registration of a version wins; the others say truthfully that it is already
registered (from the identical manifest). Concurrent first versions of a new model all
succeed. Every evidence blob of every registered version is present and intact afterwards.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, small_manifest

ROUNDS = 2


def _register(home: str, db_url: str, manifest: str, go: Any, out: Any) -> None:
    """A forked registering process: wait for the start signal, register, report."""
    go.wait()
    r = run_cli("--home", home, "--db", db_url, "register", manifest, "--format", "json")
    out.put((manifest, r.code, r.out, r.err))


@pytest.mark.slow
def test_eight_processes_register_same_and_different_manifests(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / ".ordinance"
    assert run_cli("--home", home, "--db", db_url, "init").code == 0
    expected_versions = 0
    for r in range(ROUNDS):
        same = small_manifest(tmp_path / f"same{r}", name=f"same{r}")
        fresh = [
            small_manifest(tmp_path / f"fresh{r}-{i}", name=f"fresh{r}", version=f"{i}.0.0")
            for i in range(4)
        ]
        manifests = [same] * 4 + fresh
        ctx = multiprocessing.get_context("fork")  # the imports are done once, here
        go, queue = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=_register, args=(str(home), db_url, str(m), go, queue))
            for m in manifests
        ]
        for p in procs:
            p.start()
        go.set()
        by_manifest: dict[str, list[dict[str, Any]]] = {}
        for _ in procs:
            manifest, code, out, err = queue.get(timeout=300)
            assert code == 0, err
            by_manifest.setdefault(manifest, []).append(json.loads(out))
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        same_results = by_manifest.pop(str(same))
        assert len(same_results) == 4
        assert sum(res["created"] for res in same_results) == 1, same_results
        assert all(res["model"] == f"same{r}" for res in same_results)
        assert all(res[0]["created"] for res in by_manifest.values()), by_manifest
        expected_versions += 5

    listed = run_cli("--home", home, "--db", db_url, "models", "--format", "json").json()
    versions = [(m["name"], v["version"]) for m in listed for v in m["versions"]]
    assert len(versions) == expected_versions
    for name, version in versions:
        shown = run_cli(
            "--home", home, "--db", db_url, "show", f"{name}@{version}", "--format", "json"
        ).json()
        for e in shown["evidence"]:
            blob = home / "evidence" / "sha256" / e["sha256"][:2] / e["sha256"]
            assert blob.is_file(), f"{name}@{version}: blob {e['name']} is missing"
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == e["sha256"]
    r = run_cli("--home", home, "--db", db_url, "log", "verify", "--format", "json")
    assert r.code == 0, r.err
    assert r.json()["size"] == expected_versions  # one registration entry each, no more

"""Many writer processes, and writers killed with SIGKILL mid-append."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from logtest_support import ORIGIN

from ordinance.log import TransparencyLog
from ordinance.signing import Ed25519Signer

APPENDER = Path(__file__).with_name("appender.py")


def _spawn(db_url: str, key_path: Path, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APPENDER), db_url, str(key_path), ORIGIN, tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collect(p: subprocess.Popen[str], lines: list[str]) -> None:
    assert p.stdout is not None
    lines.extend(p.stdout)


@pytest.mark.slow
def test_concurrent_writers(
    db_url: str, log: TransparencyLog, key_path: Path, signer: Ed25519Signer
) -> None:
    procs = [_spawn(db_url, key_path, f"proc-{p}", 250) for p in range(8)]
    acked: list[tuple[int, str]] = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        acked += [(int(a), b) for a, b in (line.split() for line in out.splitlines())]
    assert len(acked) == 2000
    assert sorted(i for i, _ in acked) == list(range(2000))  # no gaps, no duplicates
    assert log.size() == 2000
    report = log.verify(signer.vkey)
    assert report.ok, report.reason
    assert report.entries_checked == 2000
    for i, digest in random.sample(acked, 50):
        assert log.entry(i).subject_digest == digest


@pytest.mark.slow
def test_sigkill_mid_append(
    db_url: str, log: TransparencyLog, key_path: Path, signer: Ed25519Signer
) -> None:
    rng = random.Random(1234)
    acked: dict[int, str] = {}
    for rnd in range(5):
        p = _spawn(db_url, key_path, f"crash-{rnd}", -1)
        assert p.stdout is not None
        lines: list[str] = [p.stdout.readline()]  # wait until the child is appending
        reader = threading.Thread(target=_collect, args=(p, lines), daemon=True)
        reader.start()
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        reader.join(timeout=30)
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        p.stderr.close()
        for line in lines:
            if line.endswith("\n"):
                index, digest = line.split()
                acked[int(index)] = digest
    assert acked, "the child never acknowledged an append"
    report = log.verify(signer.vkey, deep=True)
    assert report.ok, report.reason
    size = log.size()
    assert max(acked) < size
    for index, digest in acked.items():
        assert log.entry(index).subject_digest == digest

"""Integration tests must not leave threads behind for the tests that follow.

MLflow's artifact repositories each own an idle thread pool that lives until the repository
is garbage-collected. Later tests (the multi-process log verification) need a process with
no other threads, as fork requires; collect them here and wait for the pools to exit.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def _no_stray_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        gc.collect()
        stray = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not stray or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not stray, f"threads left running: {stray}"

"""What the log verification stages share: the first failure (:class:`_Bad`), the running
tally (:class:`_State`), and running work in order on a process pool."""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ordinance.errors import InfrastructureError
from ordinance.log.dsse import PAYLOAD_TYPE_INTOTO

_R = TypeVar("_R")
_INTOTO = PAYLOAD_TYPE_INTOTO.encode()
_PAE_PREFIX = b"DSSEv1 %d %s " % (len(_INTOTO), _INTOTO)


class _Bad(Exception):
    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


@dataclass
class _State:
    size: int = 0
    root: bytes | None = None
    checkpoints: int = 0
    entries: int = 0
    signatures: int = 0
    keys: tuple[str, ...] = ()
    witnesses: tuple[str, ...] = ()
    roots: dict[int, bytes] = field(default_factory=dict)
    roots_complete: bool = False


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _first(a: _Bad | None, b: _Bad) -> _Bad:
    """The failure naming the earlier entry (a failure without an entry comes first)."""
    if a is None:
        return b
    if a.index is None:
        return a
    if b.index is None or b.index < a.index:
        return b
    return a


def _fork_ok() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _windowed(
    pool: ProcessPoolExecutor,
    fn: Callable[[Any], _R],
    items: Iterator[Any],
    window: int,
) -> Generator[_R, None, None]:
    """``fn`` over ``items`` on the pool, in order, at most ``window`` in flight.

    A worker that dies (killed, out of memory) is an infrastructure error, never a hang; on
    an early exit the queued work is cancelled.
    """
    pending: deque[Future[_R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as exc:
        raise InfrastructureError(f"a log verification worker process died: {exc}") from exc
    finally:
        for f in pending:
            f.cancel()

"""A short-lived cache of read answers, cleared by every write this process answers.

Hot reads (the latest checkpoint, a version) cost a database round trip and, for guarded
registry reads, a check of the rows against the log. Under many concurrent readers the
server spends most of its time repeating them. :class:`ReadCache` keeps an answer for at
most :attr:`ReadCache.ttl` seconds:

* every non-GET request clears it when its response starts (after the write committed),
  so a client always reads its own writes from the process that took them;
* an answer read while a write was committing is not stored (the generation check), so a
  clear can never be undone by a slow reader;
* a write taken by another process (another ``serve --workers`` process, or a local
  command on the server's workspace) shows within ``ttl`` seconds. C2SP tlog-tiles asks
  exactly this of a checkpoint: it is mutable and may be cached for a few seconds;
* concurrent misses of one key share one read (:attr:`ReadCache.inflight`), unless a write
  cleared the cache since that read began;
* an answer stored with a *stamp* (the log's size before it was read) is revalidated when
  its ``ttl`` runs out instead of recomputed: if the log has not grown, nothing it vouches
  for changed, so the answer is still the verified one (stored again with :meth:`ReadCache.put`). The
  log's size is itself a cached answer, so revalidating every key costs one query a second.

:class:`ClearOnWrite` is the ASGI middleware that clears it (and bounds the request threads).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from anyio.to_thread import current_default_thread_limiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ClearOnWrite", "ReadCache"]

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadCache:
    """Answers by key for ``ttl`` seconds (monotonic clock), at most ``max_entries``."""

    def __init__(self, ttl: float = 1.0, max_entries: int = 4096) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[Any, tuple[float, Any, Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        #: reads in progress, by key: ``(generation, future)``; used from the event loop only,
        #: so concurrent misses of one key wait for one read instead of each repeating it.
        self.inflight: dict[Any, tuple[int, asyncio.Future[Any]]] = {}

    @property
    def generation(self) -> int:
        """Take it before reading the database; pass it to :meth:`put`."""
        return self._generation

    def get(self, key: Any) -> Any | None:
        hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return None
        return hit[1]

    def stale(self, key: Any) -> tuple[Any, Any] | None:
        """An expired answer stored with a stamp: ``(value, stamp)``, else ``None``."""
        hit = self._items.get(key)
        if hit is None or hit[2] is None:
            return None
        return hit[1], hit[2]

    def put(self, key: Any, value: Any, generation: int, stamp: Any = None) -> None:
        """Store ``value`` unless a write cleared the cache since ``generation`` was taken.
        ``stamp`` (taken before the read) lets :meth:`revalidate` keep it past ``ttl``."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._items) >= self.max_entries:
                self._items.clear()
            self._items[key] = (time.monotonic(), value, stamp)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._items.clear()


class ClearOnWrite:
    """Clears ``cache`` when a non-GET request's response starts (its write is committed by
    then: routes answer after their transaction) and again when it ends.

    It also bounds the event loop's thread pool (which runs sync routes and the core's
    blocking calls) to ``threads``, the number the database pool was sized for: set on every
    request (the limiter is per event loop; setting it is a few attribute writes) rather than
    in a lifespan, so that it holds however the app is served.
    """

    def __init__(self, app: ASGIApp, cache: ReadCache, threads: int | None = None) -> None:
        self.app = app
        self.cache = cache
        self.threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.threads is not None:
            limiter = current_default_thread_limiter()
            if limiter.total_tokens != self.threads:
                limiter.total_tokens = self.threads
        if scope["type"] != "http" or scope["method"] in _SAFE:
            await self.app(scope, receive, send)
            return
        cache = self.cache

        async def clearing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                cache.clear()
            await send(message)

        try:
            await self.app(scope, receive, clearing_send)
        finally:
            cache.clear()

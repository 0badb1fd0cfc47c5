"""A C2SP tlog-tiles client written from the specification text, for the tests.

It knows nothing of Ordinance's storage or proof planner: it fetches ``checkpoint`` and
``tile/...`` resources by path (over HTTP, or from anything that answers a path), rebuilds
any Merkle Tree Hash from tile hashes exactly as the spec defines them
(``MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l])``), and computes RFC 6962 ``PATH`` and
``PROOF`` by the RFC's recursion.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from functools import lru_cache

Fetch = Callable[[str], bytes]


def _leaf(d: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + d).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _index(n: int) -> str:
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"{n % 1000:03d}")
        n //= 1000
    parts.reverse()
    return "/".join([f"x{p}" for p in parts[:-1]] + [parts[-1]])


class TilesClient:
    def __init__(self, fetch: Fetch, size: int) -> None:
        self.fetch = fetch
        self.size = size
        self._tile = lru_cache(maxsize=None)(self._fetch_tile)

    def _fetch_tile(self, level: int, n: int) -> list[bytes]:
        """Tile n at level l of a tree of ``self.size``: full if the tree covers it, else
        the partial tile of width floor(size / 256**l) mod 256."""
        full_end = (n + 1) * 256 ** (level + 1)
        if full_end <= self.size:
            body = self.fetch(f"tile/{level}/{_index(n)}")
            width = 256
        else:
            width = (self.size // 256**level) % 256
            body = self.fetch(f"tile/{level}/{_index(n)}.p/{width}")
        assert len(body) == 32 * width, (level, n, len(body))
        return [body[i : i + 32] for i in range(0, len(body), 32)]

    def entries(self, n: int) -> list[bytes]:
        full_end = (n + 1) * 256
        path = f"tile/entries/{_index(n)}"
        if full_end > self.size:
            path += f".p/{self.size % 256}"
        body = self.fetch(path)
        out, pos = [], 0
        while pos < len(body):
            (length,) = struct.unpack(">H", body[pos : pos + 2])
            out.append(body[pos + 2 : pos + 2 + length])
            pos += 2 + length
        return out

    def entry(self, i: int) -> bytes:
        return self.entries(i // 256)[i % 256]

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range the RFC 6962 recursion produces."""
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n & (n - 1) == 0 and lo % n == 0:
            height = n.bit_length() - 1
            level, rest = divmod(height, 8)
            if rest == 0:
                idx = lo // 256**level  # one hash of a level-`level` tile
                return self._tile(level, idx // 256)[idx % 256]
        if n == 1:
            raise AssertionError("unreachable: a single leaf is a level-0 tile hash")
        k = 1 << ((n - 1).bit_length() - 1)
        return _node(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self) -> bytes:
        return self.mth(0, self.size)

    # RFC 6962 section 2.1.1 and 2.1.2
    def inclusion(self, m: int) -> list[bytes]:
        return self._path(m, 0, self.size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n <= 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*self._path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def consistency(self, m: int) -> list[bytes]:
        return self._subproof(m, 0, self.size, True)

    def _subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

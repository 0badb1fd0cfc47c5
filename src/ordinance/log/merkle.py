"""RFC 6962 / RFC 9162 Merkle tree hashing, proof planning and proof verification (SHA-256).

Hashing: ``leaf = SHA256(0x00 || d)``, ``node = SHA256(0x01 || l || r)``, empty root
``SHA256("")``. ``MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n]))`` for the largest power of two
``k < n``; equivalently, the fold from the right of the perfect subtrees that make up ``n``.

A *perfect node* ``(level, index)`` is the root of the complete subtree over leaves
``[index << level, (index + 1) << level)``. Once written it never changes; the log stores
them all, so every proof element is a fold of at most log2(n) stored perfect nodes.
:func:`inclusion_plan` and :func:`consistency_plan` say which; :func:`fold` combines them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32

Node = tuple[int, int]
"""(level, index) of a perfect subtree root; level 0 is a leaf hash."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def leaf_hashes(items: Sequence[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + d).digest() for d in items]


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees covering ``[start, end)``, left to right, largest first.

    Valid for every range the RFC 6962 recursion produces (start aligned to the range's
    split), and for ``[0, n)``.
    """
    out: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree roots (left to right) into the MTH of their union."""
    if not hashes:
        return EMPTY_ROOT
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = _sha256(b"\x01" + h + r).digest()
    return r


def inclusion_plan(index: int, size: int) -> list[list[Node]]:
    """RFC 6962 PATH(index, D[0:size]) as perfect nodes: one list per proof element."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} outside a tree of size {size}")
    out: list[list[Node]] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            out.append(perfect_nodes(start + k, end))
            end = start + k
        else:
            out.append(perfect_nodes(start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_plan(size1: int, size2: int) -> list[list[Node]]:
    """RFC 6962 PROOF(size1, D[0:size2]) as perfect nodes: one list per proof element."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to {size2}")
    out: list[list[Node]] = []
    start, end, m, b = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not b:
                out.append(perfect_nodes(start, end))
            break
        k = _split(n)
        if m <= k:
            out.append(perfect_nodes(start + k, end))
            end = start + k
        else:
            out.append(perfect_nodes(start, start + k))
            start, m, b = start + k, m - k, False
    out.reverse()
    return out


def resolve(plan: Sequence[Sequence[Node]], lookup: Mapping[Node, bytes]) -> list[bytes]:
    return [fold([lookup[n] for n in element]) for element in plan]


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """The root given the perfect-subtree roots of ``perfect_nodes(0, n)``."""
    return fold(frontier)


def append_leaves(
    size: int, frontier: Sequence[bytes], new_leaf_hashes: Sequence[bytes]
) -> tuple[list[tuple[int, int, bytes]], list[bytes]]:
    """Append leaves to a tree given its frontier (``perfect_nodes(0, size)`` hashes).

    Returns the new perfect nodes of level >= 1 as ``(level, index, hash)`` and the new
    frontier. Level-0 nodes are the leaf hashes themselves.
    """
    # stack of (level, hash) for the right edge, small levels at the end
    stack = [(lvl, h) for (lvl, _), h in zip(perfect_nodes(0, size), frontier, strict=True)]
    created: list[tuple[int, int, bytes]] = []
    n = size
    sha = _sha256
    for lh in new_leaf_hashes:
        level, h = 0, lh
        idx = n
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            h = sha(b"\x01" + left + h).digest()
            level += 1
            idx >>= 1
            created.append((level, idx, h))
        stack.append((level, h))
        n += 1
    return created, [h for _, h in stack]


def build_levels(hashes: list[bytes]) -> list[list[bytes]]:
    """All perfect nodes above ``hashes`` (level 0), level by level; fast bulk computation."""
    levels = [hashes]
    cur = hashes
    sha = _sha256
    while len(cur) > 1:
        cur = [sha(b"\x01" + a + b).digest() for a, b in zip(cur[0::2], cur[1::2], strict=False)]
        levels.append(cur)
    return levels


def root(hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    levels = build_levels(hashes)
    return fold([levels[lvl][i] for lvl, i in perfect_nodes(0, len(hashes))])


# --------------------------------------------------------------------------- verification


def _check_hashes(*items: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in items)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2; ``leaf`` is the leaf *hash*."""
    if index < 0 or index >= size:
        return False
    if not _check_hashes(leaf, root_hash, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """RFC 9162 §2.1.4.2, with the edge cases of the transparency-dev probes.

    ``size1 == 0`` fails (consistency from the empty tree is meaningless: skip instead).
    """
    if size1 <= 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not proof or not _check_hashes(root1, root2, *proof):
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


def compute_root_at(size: int, get: Callable[[list[Node]], Mapping[Node, bytes]]) -> bytes:
    """MTH of the first ``size`` leaves given a node lookup (used with stored nodes)."""
    nodes = perfect_nodes(0, size)
    found = get(nodes)
    return fold([found[n] for n in nodes])

"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and their verification.

Pure functions over SHA-256, standard library only (the standalone verifier imports this):

- ``leaf_hash(d) = SHA-256(0x00 || d)``; ``node_hash(l, r) = SHA-256(0x01 || l || r)``.
- ``MTH`` of ``n > 1`` leaves splits at ``k``, the largest power of two smaller than ``n``.

Every subtree the RFC's recursion touches is ``[a, b)`` with ``a`` aligned to a power of two
at least ``b - a``; so it is a chain of *complete aligned* subtrees ``(level, index)`` covering
leaves ``[index * 2**level, (index + 1) * 2**level)``. The log stores exactly those nodes once
(``Frontier`` yields them while appending), and a proof needs O(log n) of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

NodeKey = tuple[int, int]  # (level, index)
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (the verifier's full recomputation)."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = split_point(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return EMPTY_ROOT if not leaf_hashes else mth(0, len(leaf_hashes))


# --- proofs as lists of subtree ranges -------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as the ranges whose MTH make up the path."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    out: list[tuple[int, int]] = []

    def path(m: int, lo: int, hi: int) -> None:
        if hi - lo <= 1:
            return
        k = split_point(hi - lo)
        if m < k:
            path(m, lo, lo + k)
            out.append((lo + k, hi))
        else:
            path(m - k, lo + k, hi)
            out.append((lo, lo + k))

    path(index, 0, size)
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) as ranges (empty when m == n)."""
    if not 0 < first <= second:
        raise ValueError("need 0 < first <= second")
    out: list[tuple[int, int]] = []

    def subproof(m: int, lo: int, hi: int, complete: bool) -> None:
        n = hi - lo
        if m == n:
            if not complete:
                out.append((lo, hi))
            return
        k = split_point(n)
        if m <= k:
            subproof(m, lo, lo + k, complete)
            out.append((lo + k, hi))
        else:
            subproof(m - k, lo + k, hi, False)
            out.append((lo, lo + k))

    if first < second:
        subproof(first, 0, second, True)
    return out


def decompose(lo: int, hi: int) -> list[NodeKey]:
    """The complete aligned subtrees whose hashes give MTH(D[lo:hi]) (RFC-shaped range)."""
    n = hi - lo
    if n <= 0:
        raise ValueError("empty range")
    if _is_pow2(n) and lo % n == 0:
        level = n.bit_length() - 1
        return [(level, lo >> level)]
    k = split_point(n)
    return decompose(lo, lo + k) + decompose(lo + k, hi)


def range_hash(lo: int, hi: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    n = hi - lo
    if _is_pow2(n) and lo % n == 0:
        level = n.bit_length() - 1
        return nodes[(level, lo >> level)]
    k = split_point(n)
    return node_hash(range_hash(lo, lo + k, nodes), range_hash(lo + k, hi, nodes))


def needed_nodes(ranges: Iterable[tuple[int, int]]) -> set[NodeKey]:
    keys: set[NodeKey] = set()
    for lo, hi in ranges:
        keys.update(decompose(lo, hi))
    return keys


@dataclass
class Frontier:
    """The right edge of a growing tree: the complete subtrees covering ``[0, size)``.

    ``append`` returns every newly completed node (level 0 = the leaf itself), so a store can
    persist each complete aligned subtree exactly once.
    """

    size: int = 0
    stack: list[tuple[int, int, bytes]] = field(default_factory=list)  # (level, index, hash)

    @classmethod
    def load(cls, size: int, nodes: Mapping[NodeKey, bytes]) -> Frontier:
        keys = decompose(0, size) if size else []
        return cls(size=size, stack=[(lv, ix, nodes[(lv, ix)]) for lv, ix in keys])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        created = [(0, self.size, leaf)]
        self.stack.append(created[0])
        self.size += 1
        while len(self.stack) >= 2 and self.stack[-1][0] == self.stack[-2][0]:
            level, _, right = self.stack.pop()
            _, left_index, left = self.stack.pop()
            node = (level + 1, left_index >> 1, node_hash(left, right))
            self.stack.append(node)
            created.append(node)
        return created

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        acc = self.stack[-1][2]
        for _, _, h in reversed(self.stack[:-1]):
            acc = node_hash(h, acc)
        return acc


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------


class ProofError(ValueError):
    pass


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the signed root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    if first > second:
        raise ProofError("first tree is larger than the second")
    if first == second:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("same tree size, different roots: the log forked")
        return
    if first == 0:
        return  # the empty tree is consistent with every tree
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if _is_pow2(first):
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != first_root:
        raise ProofError("consistency proof does not match the earlier root: history rewritten")
    if sr != second_root:
        raise ProofError("consistency proof does not match the newer root")

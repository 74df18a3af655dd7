"""RFC 9162 tree, proofs and verification against a literal transcription of the RFC."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notification.log.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    needed_nodes,
    node_hash,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)


def mth(d: list[bytes]) -> bytes:  # RFC 9162 §2.1.1, literally, on leaf *data*
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:  # §2.1.3.1
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:  # §2.1.4.1
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def build(n: int) -> tuple[list[bytes], dict[tuple[int, int], bytes], Frontier]:
    data = [f"entry-{i}".encode() for i in range(n)]
    frontier = Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for d in data:
        for level, index, h in frontier.append(leaf_hash(d)):
            assert (level, index) not in nodes
            nodes[(level, index)] = h
    return data, nodes, frontier


def test_known_vectors() -> None:
    assert root_of([]) == EMPTY_ROOT
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_proofs_match_the_rfc_and_verify(n: int, draw: st.DataObject) -> None:
    data, nodes, frontier = build(n)
    root = mth(data)
    assert frontier.root() == root
    assert root_of([leaf_hash(d) for d in data]) == root
    assert range_hash(0, n, nodes) == root
    # reload the frontier from stored nodes, as the sequencer does after a restart
    assert Frontier.load(n, nodes).root() == root

    m = draw.draw(st.integers(min_value=0, max_value=n - 1))
    ranges = inclusion_ranges(m, n)
    assert needed_nodes(ranges) <= set(nodes)
    proof = [range_hash(lo, hi, nodes) for lo, hi in ranges]
    assert proof == path(m, data)
    verify_inclusion(m, n, leaf_hash(data[m]), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(m, n, leaf_hash(b"forged"), proof, root)
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(m, n, leaf_hash(data[m]), proof[:-1], root)

    first = draw.draw(st.integers(min_value=1, max_value=n))
    cproof = [range_hash(lo, hi, nodes) for lo, hi in consistency_ranges(first, n)]
    assert cproof == (subproof(first, data, True) if first < n else [])
    verify_consistency(first, n, mth(data[:first]), root, cproof)
    if first < n:
        forged = [b"x", *data[1:first]] if first > 1 else [b"x"]
        with pytest.raises(ProofError):
            verify_consistency(first, n, mth(forged), root, cproof)


def test_consistency_edge_cases() -> None:
    data, _, _ = build(4)
    with pytest.raises(ProofError):
        verify_consistency(4, 4, mth(data), mth(data[:3]), [])
    with pytest.raises(ProofError):
        verify_consistency(2, 4, mth(data[:2]), mth(data), [])
    with pytest.raises(ProofError):
        verify_inclusion(4, 4, leaf_hash(data[0]), [], mth(data))


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=40))
def test_frontier_resumes_after_a_restart(first: int, more: int) -> None:
    data, nodes, _ = build(first + more)
    resumed = Frontier.load(first, nodes)
    created: dict[tuple[int, int], bytes] = {}
    for d in data[first:]:
        for level, index, h in resumed.append(leaf_hash(d)):
            created[(level, index)] = h
    assert resumed.root() == mth(data)
    assert all(nodes[k] == v for k, v in created.items())


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=10**9), st.data())
def test_proofs_read_logarithmically_many_stored_nodes(n: int, draw: st.DataObject) -> None:
    """What makes proofs cheap: O(log n) stored complete subtrees, never a rehash."""
    depth = (n - 1).bit_length()
    m = draw.draw(st.integers(min_value=0, max_value=n - 1))
    assert len(needed_nodes(inclusion_ranges(m, n))) <= 2 * depth
    first = draw.draw(st.integers(min_value=1, max_value=n))
    assert len(needed_nodes(consistency_ranges(first, n))) <= 2 * depth + 1

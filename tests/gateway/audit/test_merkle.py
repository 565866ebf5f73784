"""The Merkle tree against RFC 6962 itself: published vectors, and random sizes against a reference written here
straight from the RFC's recursive definitions (MTH, PATH, PROOF/SUBPROOF), independent of gateway.audit.merkle."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit import merkle

# ---- the reference: RFC 6962 section 2.1, transcribed -------------------------------------------------------------


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True) if 0 < m < len(leaves) else []


def lookup_over(leaves: list[bytes]) -> merkle.NodeLookup:
    """Node (level, index) computed by the reference from the raw leaves: what the stored hashes must equal."""

    def node(level: int, index: int) -> bytes:
        return ref_mth(leaves[index << level : (index + 1) << level])

    return node


def leaves_of(size: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(size)]


# ---- published vectors: RFC 6962 / certificate-transparency reference data ----------------------------------------

CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {  # (leaf index 0-based, tree size): audit path
    (0, 1): [],
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


def test_roots_match_the_published_vectors():
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    frontier = merkle.Frontier()
    for size, leaf in enumerate(CT_LEAVES, start=1):
        frontier.append(merkle.leaf_hash(leaf))
        assert frontier.root().hex() == CT_ROOTS[size - 1]
        assert ref_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]  # the reference is right too


def test_inclusion_proofs_match_the_published_vectors():
    for (index, size), want in CT_INCLUSION.items():
        leaves = CT_LEAVES[:size]
        proof = merkle.inclusion_proof(index, size, lookup_over(leaves))
        assert [h.hex() for h in proof] == want
        root = bytes.fromhex(CT_ROOTS[size - 1])
        assert merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), proof, root)


def test_consistency_proofs_match_the_published_vectors():
    for (old, new), want in CT_CONSISTENCY.items():
        proof = merkle.consistency_proof(old, new, lookup_over(CT_LEAVES[:new]))
        assert [h.hex() for h in proof] == want
        old_root, new_root = bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
        assert merkle.verify_consistency(old, new, old_root, new_root, proof)
        if old < new:
            assert not merkle.verify_consistency(old, new, new_root, new_root, proof)


# ---- random sizes against the reference ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_inclusion_proofs_equal_the_reference_and_verify(size, data):
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    leaves = leaves_of(size)
    proof = merkle.inclusion_proof(index, size, lookup_over(leaves))
    assert proof == ref_path(index, leaves)
    needed = merkle.inclusion_nodes(index, size)
    assert len(needed) <= 2 * size.bit_length()  # O(log n) stored nodes, never the whole log
    root = ref_mth(leaves)
    leaf = merkle.leaf_hash(leaves[index])
    assert merkle.verify_inclusion(index, size, leaf, proof, root)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"other"), proof, root)
    if size > 1:
        assert not merkle.verify_inclusion((index + 1) % size, size, leaf, proof, root)
        assert not merkle.verify_inclusion(index, size, leaf, proof[:-1], root)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_proofs_equal_the_reference_and_verify(new, data):
    old = data.draw(st.integers(min_value=1, max_value=new))
    leaves = leaves_of(new)
    proof = merkle.consistency_proof(old, new, lookup_over(leaves))
    assert proof == ref_proof(old, leaves)
    old_root, new_root = ref_mth(leaves[:old]), ref_mth(leaves)
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    forked = ref_mth([b"forged", *leaves[1:old]])
    assert not merkle.verify_consistency(old, new, forked, new_root, proof)
    if old < new:
        assert not merkle.verify_consistency(old, new, old_root, ref_mth([*leaves[:-1], b"x"]), proof)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=200))
def test_the_frontier_stores_exactly_the_reference_interior_nodes(size):
    leaves = leaves_of(size)
    frontier = merkle.Frontier()
    for index, leaf in enumerate(leaves):
        completed = frontier.append(merkle.leaf_hash(leaf))
        for level, node in enumerate(completed, start=1):
            start = index + 1 - (1 << level)
            assert node == ref_mth(leaves[start : index + 1])
        reloaded = merkle.Frontier.from_bytes(frontier.size, frontier.to_bytes())
        assert reloaded.root() == frontier.root()
    assert frontier.root() == ref_mth(leaves)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.data())
def test_a_frontier_extended_by_perfect_subtrees_reaches_the_reference_root(size, data):
    start = data.draw(st.integers(min_value=0, max_value=size))
    leaves = leaves_of(size)
    frontier = merkle.Frontier()
    for level, index in merkle.perfect_ranges(0, start):
        frontier.append_subtree(level, lookup_over(leaves)(level, index))
    for level, index in merkle.perfect_ranges(start, size):
        frontier.append_subtree(level, lookup_over(leaves)(level, index))
    assert frontier.size == size and frontier.root() == ref_mth(leaves)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.data())
def test_extending_a_frontier_by_a_batch_stores_the_reference_interior_nodes(size, data):
    start = data.draw(st.integers(min_value=0, max_value=size))  # the batch is leaves [start, size)
    leaves = leaves_of(size)
    frontier = merkle.Frontier()
    for leaf in leaves[:start]:
        frontier.append(merkle.leaf_hash(leaf))
    completed = frontier.extend([merkle.leaf_hash(leaf) for leaf in leaves[start:]])
    assert len(completed) == size - start
    for index, nodes in enumerate(completed, start=start):
        levels = [nodes[i : i + merkle.HASH_SIZE] for i in range(0, len(nodes), merkle.HASH_SIZE)]
        assert len(levels) == (index + 1 & -(index + 1)).bit_length() - 1  # one per perfect subtree ending here
        for level, node in enumerate(levels, start=1):
            assert node == ref_mth(leaves[index + 1 - (1 << level) : index + 1])
    assert frontier.size == size and frontier.root() == ref_mth(leaves)

"""RFC 6962 / RFC 9162 Merkle tree hashing, compact ranges, and inclusion and consistency proofs.

Leaf hash `H(0x00 || data)`, node hash `H(0x01 || left || right)`, SHA-256. The tree over `n` leaves splits at the
largest power of two below `n` (RFC 6962 section 2.1). A node is named `(level, index)`: the perfect subtree of
`2**level` leaves starting at leaf `index * 2**level`. Every hash a proof needs is either such a perfect node or the
hash of a right-edge range, folded from the perfect nodes that tile it, so proofs read O(log n) stored nodes.

The proof functions take a `node(level, index) -> bytes` lookup and first say which nodes they need
(`inclusion_nodes`, `consistency_nodes`), so a caller can fetch them all in one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
NodeId = tuple[int, int]
NodeLookup = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """`leaf_hash` of each leaf, in one comprehension (a batch's worth at a time)."""
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + data).digest() for data in leaves]


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def perfect_ranges(start: int, end: int) -> list[NodeId]:
    """The maximal aligned perfect subtrees that tile leaves [start, end), left to right."""
    nodes: list[NodeId] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees of decreasing size, left to right (the RFC 6962 right edge)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def range_hash(start: int, end: int, node: NodeLookup) -> bytes:
    """MTH of leaves [start, end), where `start` is aligned as RFC 6962's recursion leaves it."""
    return fold([node(level, index) for level, index in perfect_ranges(start, end)])


def frontier_levels(size: int) -> list[int]:
    """Levels of the perfect subtrees that make up a tree of `size` leaves, largest first."""
    return [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


# ---- inclusion proofs (RFC 9162 section 2.1.3) --------------------------------------------------------------------


def _inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # leaf-side first
    return ranges


def inclusion_nodes(index: int, size: int) -> set[NodeId]:
    _check_index(index, size)
    return {node for start, end in _inclusion_ranges(index, 0, size) for node in perfect_ranges(start, end)}


def inclusion_proof(index: int, size: int, node: NodeLookup) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves."""
    _check_index(index, size)
    return [range_hash(start, end, node) for start, end in _inclusion_ranges(index, 0, size)]


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root the proof leads to, or ValueError if the proof has the wrong shape."""
    _check_index(index, size)
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ValueError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion proof is too short")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) == root
    except ValueError:
        return False


# ---- consistency proofs (RFC 9162 section 2.1.4) ------------------------------------------------------------------


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[0:n], true) as leaf ranges, leaf side first."""
    ranges: list[tuple[int, int]] = []
    start, end, complete = 0, new, True
    while True:
        size = end - start
        if old - start == size:
            if not complete:
                ranges.append((start, end))
            break
        k = split_point(size)
        if old - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            complete = False
    ranges.reverse()
    return ranges


def _check_sizes(old: int, new: int) -> None:
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")


def consistency_nodes(old: int, new: int) -> set[NodeId]:
    _check_sizes(old, new)
    if old in (0, new):
        return set()
    return {node for start, end in _consistency_ranges(old, new) for node in perfect_ranges(start, end)}


def consistency_proof(old: int, new: int, node: NodeLookup) -> list[bytes]:
    """The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves (empty if trivial)."""
    _check_sizes(old, new)
    if old in (0, new):
        return []
    return [range_hash(start, end, node) for start, end in _consistency_ranges(old, new)]


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:  # noqa: C901
    """RFC 9162 section 2.1.4.2."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root itself starts the walk
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
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
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")


# ---- the compact range: what an appender keeps ----------------------------------------------------------------------


class Frontier:
    """The perfect subtrees covering leaves [0, size): enough to append and to compute the root.

    `append` returns the interior nodes the new leaf completed, lowest first: the hashes of the perfect subtrees of
    2, 4, 8, ... leaves ending at this leaf. Stored beside the leaf, they are the log's interior hashes.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier hashes, not {len(self.hashes)}")

    def append(self, leaf: bytes) -> list[bytes]:
        completed: list[bytes] = []
        current = leaf
        size = self.size
        while size & 1:
            current = node_hash(self.hashes.pop(), current)
            completed.append(current)
            size >>= 1
        self.hashes.append(current)
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[bytes]:
        """`append` each leaf hash in turn; for each, the interior nodes it completed joined into one bytes value
        (what the log stores beside the leaf). One loop with the hashing inlined: the log runs it for every batch."""
        sha256 = hashlib.sha256
        hashes, size = self.hashes, self.size
        completed: list[bytes] = []
        for leaf in leaves:
            if size & 1:
                current, rest, nodes = leaf, size, []
                while rest & 1:
                    current = sha256(b"\x01" + hashes.pop() + current).digest()
                    nodes.append(current)
                    rest >>= 1
                hashes.append(current)
                completed.append(b"".join(nodes))
            else:  # an even size: the leaf completes no interior node
                hashes.append(leaf)
                completed.append(b"")
            size += 1
        self.size = size
        return completed

    def append_subtree(self, level: int, subtree: bytes) -> None:
        """Append a whole perfect subtree of `2**level` leaves (the tree's size must be a multiple of it)."""
        if self.size % (1 << level):
            raise ValueError(f"a subtree of 2**{level} leaves cannot start at leaf {self.size}")
        current, size = subtree, self.size >> level
        while size & 1:
            current = node_hash(self.hashes.pop(), current)
            size >>= 1
        self.hashes.append(current)
        self.size += 1 << level

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def root(self) -> bytes:
        return fold(self.hashes)

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])

"""Audit log exports (a file an auditor takes away) and their offline verification.

An export is JSON lines. The first line is the header: format, origin, the range `[start, end)`, the hashes of the
perfect subtrees covering `[0, start)` (`prefix`), every checkpoint whose size falls in the range with its witness
cosignatures, the checkpoint that covers `end` with the hashes covering `[end, size)` (`head`, `suffix`), and the
consistency proofs between consecutive checkpoints. Every further line is one entry: the leaf hash the log stored,
a space, and the canonical leaf itself.

`verify_export` needs nothing but the file and the log's published verifier key (and, to check cosignatures, the
witnesses' keys): it recomputes every leaf hash and every root, opens every checkpoint note and cosignature, checks
every consistency proof, and reports the first bad entry by its position.
"""

from __future__ import annotations

import binascii
import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import rfc8785

from gateway.audit.events import leaf_index
from gateway.audit.log import AuditLog, b64
from gateway.audit.merkle import Frontier, perfect_ranges, verify_consistency
from gateway.audit.note import Checkpoint, NoteError, VerifierKey, open_note, verify_cosignature
from gateway.audit.repository import AuditRepository, MissingNode

FORMAT = "dpi-audit-export/v1"
EXPORT_CHUNK = 5000
VERIFY_CHUNK = 65536
_sha256 = hashlib.sha256


# ---- writing ------------------------------------------------------------------------------------------------------


async def export_lines(log: AuditLog, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
    """The export of entries [start, end) of `log`, line by line; `end` defaults to the latest
    checkpoint's size (a fresh one is published first, so the export covers everything appended so far)."""
    latest = await log.publish_checkpoint()
    end = latest.size if end is None else end
    if not 0 <= start <= end:
        raise ValueError(f"no range [{start}, {end})")
    async with log.engine.connect() as conn:
        repo = AuditRepository(conn, log.tables)
        checkpoints = await repo.checkpoints_between(max(start, 1), end)
        head = await repo.checkpoint_at_least(end) if end > 0 else None
        sizes = [size for size, _ in checkpoints] + ([head[0]] if head else [])
        cosignatures = await repo.cosignatures(sizes)
        try:
            prefix_nodes = perfect_ranges(0, start)
            stored = await repo.nodes(prefix_nodes)
            prefix = [b64(stored[n]) for n in prefix_nodes]
        except MissingNode:
            prefix = []
        head_view = None
        if head is not None:
            try:
                suffix_nodes = perfect_ranges(end, head[0])
                stored = await repo.nodes(suffix_nodes)
                suffix: list[str] | None = [b64(stored[n]) for n in suffix_nodes]
            except MissingNode:
                suffix = None
            head_view = {"size": head[0], "note": _cosigned(head[1], cosignatures.get(head[0], [])), "suffix": suffix}
        consistency = []
        chain = sorted(set(sizes))
        for old, new in itertools.pairwise(chain):
            try:
                proof = await log.consistency_on(conn, old, new)
                consistency.append({"old": old, "new": new, "proof": [b64(h) for h in proof]})
            except (MissingNode, ValueError):
                continue
        header = {
            "format": FORMAT,
            "origin": log.origin,
            "log_key": str(log.log_key),
            "witness_keys": [str(log.witness.signer.verifier)] if log.witness is not None else [],
            "start": start,
            "end": end,
            "prefix": prefix,
            "checkpoints": [{"size": s, "note": _cosigned(n, cosignatures.get(s, []))} for s, n in checkpoints],
            "head": head_view,
            "consistency": consistency,
        }
    yield json.dumps(header, sort_keys=True).encode() + b"\n"
    cursor = start
    while cursor < end:  # a connection per chunk: on SQLite the one connection is the writer's too
        async with log.engine.connect() as conn:
            chunk = await AuditRepository(conn, log.tables).entry_chunk(cursor, end, EXPORT_CHUNK)
        if not chunk:
            return
        yield b"".join(b64(e.leaf_hash).encode() + b" " + e.leaf + b"\n" for e in chunk)
        cursor = chunk[-1].index + 1


def _cosigned(note: str, cosignatures: list[str]) -> str:
    return note + "".join(line for line in cosignatures if line not in note)


# ---- verifying ------------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    position: int | None
    message: str
    exact: bool = True  # False: somewhere at or after `position` (a root that does not match), not this very entry

    def __str__(self) -> str:
        return self.message if self.position is None else f"position {self.position}: {self.message}"


@dataclass
class VerificationReport:
    entries: int = 0
    start: int = 0
    end: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_position(self) -> int | None:
        """The first entry known to be bad; failing that, where the first unmatched range begins."""
        exact = [p.position for p in self.problems if p.position is not None and p.exact]
        ranges = [p.position for p in self.problems if p.position is not None]
        return min(exact) if exact else (min(ranges) if ranges else None)

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: {self.entries} entries [{self.start}, {self.end}), {self.checkpoints} checkpoints, "
                f"{self.cosignatures} witness cosignatures verified"
            )
        first = self.first_bad_position
        where = f"first bad entry at position {first}" if first is not None else "the export is not authentic"
        return f"FAILED: {where}\n" + "\n".join(f"  - {p}" for p in self.problems)


class _Levels:
    """All complete perfect subtree hashes over the leaves [start, start + len(leaves)), built level by level."""

    def __init__(self, start: int, leaves: list[bytes]) -> None:
        self.levels: list[tuple[int, list[bytes]]] = [(start, leaves)]
        lo, hi, current = start, start + len(leaves), leaves
        while True:
            next_lo, next_hi = (lo + 1) // 2, hi // 2
            if next_hi - next_lo <= 0:
                break
            offset = 2 * next_lo - lo
            current = [
                _sha256(b"\x01" + a + b).digest()
                for a, b in zip(current[offset::2], current[offset + 1 :: 2], strict=False)
            ]
            self.levels.append((next_lo, current))
            lo, hi = next_lo, next_hi

    def node(self, level: int, index: int) -> bytes:
        lo, hashes = self.levels[level]
        return hashes[index - lo]


def verify_export(
    lines: Iterable[bytes], log_key: VerifierKey, witness_keys: Iterable[VerifierKey] = (), *, deep: bool = False
) -> VerificationReport:
    """Check an export offline; see the module docstring. `deep` also re-encodes every leaf with `rfc8785`."""
    report = VerificationReport()
    try:
        _verify(lines, log_key, list(witness_keys), report, deep=deep)
    except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as error:
        report.problems.append(Problem(None, f"malformed export: {type(error).__name__}: {error}"))
    return report


def _verify(  # noqa: C901, PLR0912, PLR0915
    lines: Iterable[bytes],
    log_key: VerifierKey,
    witnesses: list[VerifierKey],
    report: VerificationReport,
    *,
    deep: bool,
) -> None:
    iterator = iter(lines)
    try:
        header = json.loads(next(iterator))
        if header.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        start, end, origin = int(header["start"]), int(header["end"]), str(header["origin"])
        prefix = [binascii.a2b_base64(h) for h in header["prefix"]]
        report.start, report.end = start, end
    except (StopIteration, ValueError, KeyError, TypeError, binascii.Error) as error:
        report.problems.append(Problem(None, f"unreadable export header: {error}"))
        return

    leaves, stored = _check_entries(iterator, start, end, report, deep=deep)
    levels = _Levels(start, leaves)
    base = Frontier()
    try:
        for level, _ in perfect_ranges(0, start):
            base.append_subtree(level, prefix.pop(0))
    except IndexError:
        report.problems.append(Problem(start, "the export's prefix does not cover the entries before its start"))
        return
    available = start + len(leaves)

    def root_at(size: int, suffix: list[bytes] | None = None) -> bytes:
        frontier = base.copy()
        for level, index in perfect_ranges(start, min(size, available)):
            frontier.append_subtree(level, levels.node(level, index))
        for level, _ in perfect_ranges(min(size, available), size):
            if suffix is None:
                raise IndexError("no suffix")
            frontier.append_subtree(level, suffix.pop(0))
        return frontier.root()

    roots: dict[int, bytes] = {}
    opened: dict[str, Checkpoint] = {}
    verified_up_to = start
    for item in sorted(header.get("checkpoints", []), key=lambda c: int(c["size"])):
        checkpoint = _open(item["note"], log_key, origin, witnesses, report)
        if checkpoint is None:
            continue
        opened[item["note"]] = checkpoint
        roots[checkpoint.size] = checkpoint.root
        if checkpoint.size > available:
            message = f"entries end here, but the checkpoint of size {checkpoint.size} commits to more: truncated"
            report.problems.append(Problem(available, message))
            continue
        if root_at(checkpoint.size) != checkpoint.root:
            message = (
                f"an entry in [{verified_up_to}, {checkpoint.size}) is not what the signed checkpoint of size "
                f"{checkpoint.size} commits to"
            )
            report.problems.append(Problem(verified_up_to, message, exact=False))
        else:
            verified_up_to = checkpoint.size
    head = header.get("head")
    if head:
        checkpoint = opened.get(head["note"]) or _open(head["note"], log_key, origin, witnesses, report)
        suffix = head.get("suffix")
        if checkpoint is not None:
            roots[checkpoint.size] = checkpoint.root
            if available < end:
                message = f"entries end here, but the export covers up to {end}: the log was truncated"
                report.problems.append(Problem(available, message))
            elif suffix is None or _or_none(root_at, checkpoint.size, [binascii.a2b_base64(h) for h in suffix]) != (
                checkpoint.root
            ):
                message = f"the entries do not lead to the root of the signed checkpoint of size {checkpoint.size}"
                report.problems.append(Problem(verified_up_to, message, exact=False))
    elif end > start:
        report.problems.append(Problem(None, "the export has no checkpoint covering its end"))
    for item in header.get("consistency", []):
        old, new = int(item["old"]), int(item["new"])
        if old in roots and new in roots:
            proof = [binascii.a2b_base64(h) for h in item["proof"]]
            if not verify_consistency(old, new, roots[old], roots[new], proof):
                report.problems.append(
                    Problem(old, f"the checkpoint of size {new} does not extend the one of size {old} (a fork)", False)
                )
    if any(not problem.exact for problem in report.problems):
        _locate(start, leaves, stored, report)


def _or_none(root_at: Callable[[int, list[bytes]], bytes], size: int, suffix: list[bytes]) -> bytes | None:
    try:
        return root_at(size, suffix)
    except (IndexError, ValueError):
        return None


def _check_entries(
    lines: Iterator[bytes], start: int, end: int, report: VerificationReport, *, deep: bool
) -> tuple[list[bytes], list[bytes]]:
    """Every entry's recomputed leaf hash and the leaf hash the log stored (still base64), checking each entry's
    index on the way. The stored hashes are compared only if a root fails (`_locate`): with every root proved, a
    mismatch is impossible, and the comparison is a third of the work."""
    leaves: list[bytes] = []
    stored: list[bytes] = []
    position = start
    sha256 = _sha256
    # Comprehensions over bounded chunks: this is the hot loop of a million-entry check. A line is the stored
    # base64 leaf hash (always 44 characters), a space, the leaf and a newline; a line of any other shape yields
    # a "leaf" that fails the index check below, so it is reported, never trusted.
    while chunk := list(itertools.islice(lines, VERIFY_CHUNK)):
        entries = [raw[45:-1] for raw in chunk]
        if not chunk[-1].endswith(b"\n"):  # the file's last line may lack its newline
            entries[-1] = chunk[-1][45:]
        leaves += [sha256(b"\x00" + leaf).digest() for leaf in entries]
        stored += [raw[:44] for raw in chunk]
        bad = [o for o, leaf in enumerate(entries) if not leaf.startswith(b'{"index":%d,' % (position + o))]
        bad += [o for o, raw in enumerate(chunk) if raw[44:45] != b" " and o not in bad]
        for offset in sorted(bad):
            report.problems.append(Problem(position + offset, _index_problem(entries[offset], position + offset)))
        if deep:
            for offset, leaf in enumerate(entries):
                if offset not in bad and not _canonical(leaf):
                    report.problems.append(Problem(position + offset, "the entry is not canonical RFC 8785 JSON"))
        position += len(chunk)
    report.entries = len(leaves)
    if position > end:
        report.problems.append(Problem(end, f"the export holds entries beyond its declared end {end}"))
    return leaves, stored


def _locate(start: int, leaves: list[bytes], stored: list[bytes], report: VerificationReport) -> None:
    """After a root failed: the entries that do not hash to the leaf hash the log stored for them."""
    for offset, (computed, claimed) in enumerate(zip(leaves, stored, strict=True)):
        try:
            same = binascii.a2b_base64(claimed) == computed
        except binascii.Error:
            same = False
        if not same:
            report.problems.append(Problem(start + offset, "the entry does not hash to the leaf hash the log stored"))


def _index_problem(leaf: bytes, position: int) -> str:
    claimed = leaf_index(leaf)
    if claimed is None:
        return "the entry is not a leaf of this log"
    if claimed > position:
        return f"the entry claims index {claimed}: entries are missing (deleted) or out of order"
    return f"the entry claims index {claimed}: entries are out of order or duplicated"


def _canonical(leaf: bytes) -> bool:
    try:
        return bool(rfc8785.dumps(json.loads(leaf)) == leaf)
    except (ValueError, rfc8785.CanonicalizationError):
        return False


def _open(
    note: str, log_key: VerifierKey, origin: str, witnesses: list[VerifierKey], report: VerificationReport
) -> Checkpoint | None:
    try:
        text, signatures = open_note(note, log_key)
        checkpoint = Checkpoint.parse(text)
    except NoteError as error:
        report.problems.append(Problem(None, f"a checkpoint does not verify with the log's key: {error}"))
        return None
    if checkpoint.origin != origin:
        report.problems.append(Problem(None, f"checkpoint origin {checkpoint.origin!r} is not {origin!r}"))
        return None
    report.checkpoints += 1
    for key in witnesses:
        for signature in signatures:
            if signature.name == key.name and signature.key_hash == key.key_hash:
                if verify_cosignature(text, signature, key) is None:
                    report.problems.append(
                        Problem(None, f"the cosignature of {key.name} on size {checkpoint.size} does not verify")
                    )
                else:
                    report.cosignatures += 1
    return checkpoint


def read_key(value: str) -> VerifierKey:
    """A verifier key given as text or as the path of a `.vkey` file."""
    path = Path(value)
    text = path.read_text() if "+" not in value or path.exists() else value
    return VerifierKey.parse(text)

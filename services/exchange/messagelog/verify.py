"""The offline verifier of the message log: rows and the exchange's public keys in, findings out, nothing else.

Each chain is walked in stored order. An entry must carry a signature that verifies over exactly the stored record,
its stored hash must be that record's hash, its record must say the position it is stored at, and it must name the
previous entry's hash; the signed head must name the last entry. What breaks says what happened, and where:
- altered: a stored record, hash or signature differs from what was signed (one changed byte is enough: an entry's
  signature is made over its stored record, detached, so a change to either leaves a signature that does not verify);
- deleted: a position is missing (a gap, or the head names an entry that is not there);
- swapped: a record signed for one position is stored at another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from services.exchange.messagelog.signing import HEAD_TYPE, BadSignature, canonical, verify, verify_entry

GENESIS = "0" * 64
Row = Mapping[Any, Any]  # an entry or a head: a dict from an export file, or a database row's mapping
Kind = Literal["altered", "deleted", "swapped"]


@dataclass(frozen=True)
class Finding:
    chain: str
    seq: int
    kind: Kind
    detail: str

    def __str__(self) -> str:
        return f"{self.chain} entry {self.seq}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Report:
    entries: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_log(
    entries: Iterable[Mapping[str, Any]], heads: Iterable[Mapping[str, Any]], jwks: Mapping[str, Any]
) -> Report:
    """Verify rows in any order (an export file, a table read): sorted by chain and position, then walked."""
    by_chain: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        by_chain.setdefault(str(entry["chain"]), []).append(entry)
    verifier = LogVerifier(heads, jwks)
    for chain in sorted(by_chain):
        for row in sorted(by_chain[chain], key=lambda r: int(r["seq"])):
            verifier.feed(row)
    return verifier.finish()


class LogVerifier:
    """The whole log, fed one row at a time, each chain's rows together and in position order (as the database
    reads them by chain and seq), so a log of any length is verified in the memory of a few rows: what it keeps of
    a chain is the last row, and the few entries stored out of place or waiting for one."""

    def __init__(self, heads: Iterable[Row], jwks: Mapping[str, Any]) -> None:
        self._jwks = jwks
        self._heads = {str(h["chain"]): h for h in heads}
        self._findings: dict[str, list[Finding]] = {}
        self._chain: _ChainVerifier | None = None
        self._count = 0

    def feed(self, row: Row) -> None:
        chain = str(row["chain"])
        if self._chain is None or self._chain.chain != chain:
            self._close_chain()
            if chain in self._findings:
                raise ValueError(f"the rows of chain {chain} are not together")
            self._chain = _ChainVerifier(chain, self._jwks)
        self._chain.feed(row)
        self._count += 1

    def finish(self) -> Report:
        self._close_chain()
        for chain in set(self._heads) - set(self._findings):  # a head whose chain has no entries at all
            self._findings[chain] = _verify_head(chain, None, self._heads[chain], self._jwks)
        return Report(self._count, [f for chain in sorted(self._findings) for f in self._findings[chain]])

    def _close_chain(self) -> None:
        if self._chain is not None:
            chain = self._chain.chain
            self._findings[chain] = self._chain.finish(self._heads.get(chain))
            self._chain = None


class _ChainVerifier:
    """One chain's rows in position order. An entry must carry a valid signature over exactly its stored record and
    hash, sit at the position it was signed for, and name the hash of the record signed for the position before
    (wherever that record is stored); a gap is a deletion."""

    def __init__(self, chain: str, jwks: Mapping[str, Any]) -> None:
        self.chain = chain
        self._jwks = jwks
        self._findings: list[Finding] = []
        self._expected_seq = 1
        self._last: Mapping[str, Any] | None = None
        self._last_placed: tuple[int, str] | None = None  # the position and hash of the last entry stored in place
        self._kept: dict[int, str] = {0: GENESIS}  # the hash of each misplaced record, by the position signed for
        self._misplaced: list[tuple[int, int]] = []  # (stored at, signed for)
        self._waiting: list[tuple[int, Any]] = []  # (position, prev_hash) whose previous record is not seen yet

    def feed(self, row: Row) -> None:
        seq = int(row["seq"])
        record, record_hash, problem = _signed_record(row, self._jwks)
        if problem is not None:
            self._findings.append(Finding(self.chain, seq, "altered", problem))
        if seq > self._expected_seq:
            expected = self._expected_seq
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            self._findings.append(
                Finding(self.chain, expected, "deleted", f"entry {missing} is missing before entry {seq}")
            )
        if record is not None:
            signed_seq = int(record.get("seq", -1))
            if signed_seq != seq:  # named at the end, with the entry it changed places with
                self._misplaced.append((seq, signed_seq))
                self._kept[signed_seq] = record_hash  # the entry after the one it was signed for names it
            else:
                if problem is None:
                    self._check_link(seq, record.get("prev_hash"))
                self._last_placed = (seq, record_hash)
        self._expected_seq = seq + 1
        self._last = row

    def finish(self, head: Mapping[str, Any] | None) -> list[Finding]:
        signed_for = dict(self._misplaced)
        for stored, signed in self._misplaced:
            partner = next((s for s, v in signed_for.items() if v == stored), None)
            where = f"; entry {signed}'s record and entry {partner}'s are exchanged" if partner else ""
            detail = f"stored at {stored} but signed for {signed}{where}"
            self._findings.append(Finding(self.chain, stored, "swapped", detail))
        for seq, prev_hash in self._waiting:  # checked against a record stored further on, if there is one
            previous = self._kept.get(seq - 1)
            if previous is not None and prev_hash != previous:
                self._findings.append(Finding(self.chain, seq, "altered", _UNLINKED))
        findings = self._findings + _verify_head(self.chain, self._last, head, self._jwks)
        return sorted(set(findings), key=lambda f: (f.seq, f.kind, f.detail))

    def _check_link(self, seq: int, prev_hash: Any) -> None:
        """The previous position's record is the one stored there, if it is stored in place (the row just before);
        otherwise the last one stored elsewhere that was signed for it, known only at the end of the chain."""
        if self._last_placed is not None and self._last_placed[0] == seq - 1:
            if prev_hash != self._last_placed[1]:
                self._findings.append(Finding(self.chain, seq, "altered", _UNLINKED))
        else:
            self._waiting.append((seq, prev_hash))


_UNLINKED = "it does not name the previous entry's hash"


def _signed_record(row: Mapping[str, Any], jwks: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str, str | None]:
    """The record as signed, its hash (the SHA-256 of the bytes signed, which is how the writer chains the next entry
    on), and what is wrong with the stored row (None if nothing). Each record is canonicalised and hashed once."""
    stored = row["record"]
    try:
        stored_bytes = canonical(stored) if isinstance(stored, Mapping) else None
    except (ValueError, TypeError):  # rfc8785's errors are ValueErrors (a NaN, say, in an export file)
        stored_bytes = None
    if stored_bytes is None:
        return None, "", "the stored record is not a JSON object with a canonical form"
    try:
        signed = verify_entry(str(row["signature"]), stored_bytes, jwks)
    except BadSignature as error:
        return None, "", f"its signature is invalid ({error})"
    record, record_hash = json.loads(signed), hashlib.sha256(signed).hexdigest()
    if stored_bytes != signed:
        return record, record_hash, "the stored record differs from the signed one"
    if row["entry_hash"] != record_hash:
        return record, record_hash, "the stored hash is not the record's hash"
    return record, record_hash, None


def _verify_head(
    chain: str, last: Mapping[str, Any] | None, head: Mapping[str, Any] | None, jwks: Mapping[str, Any]
) -> list[Finding]:
    last_seq = int(last["seq"]) if last is not None else 0
    if head is None:
        return [Finding(chain, last_seq, "deleted", "the chain's signed head is missing")] if last is not None else []
    if head.get("signature") is None:
        if int(head["seq"]) == 0 and last is None:
            return []
        return [Finding(chain, last_seq, "altered", "the chain's head is unsigned")]
    try:
        signed = json.loads(verify(str(head["signature"]), jwks, typ=HEAD_TYPE))
    except BadSignature as error:
        return [Finding(chain, int(head["seq"]), "altered", f"the chain's head signature is invalid ({error})")]
    head_seq = int(signed["seq"])
    if head_seq > last_seq:
        missing = f"{head_seq}" if head_seq == last_seq + 1 else f"{last_seq + 1} to {head_seq}"
        return [Finding(chain, last_seq + 1, "deleted", f"entry {missing} is missing at the end of the chain")]
    if head_seq < last_seq:
        return [Finding(chain, head_seq + 1, "altered", f"entries after {head_seq} are not in the signed head")]
    if last is not None and signed["entry_hash"] != last["entry_hash"]:
        return [Finding(chain, last_seq, "altered", "the last entry is not the one the signed head names")]
    return []

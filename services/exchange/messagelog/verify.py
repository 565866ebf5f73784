"""The offline verifier of the message log: rows and the exchange's public keys in, findings out, nothing else.

Each chain is walked in stored order. An entry must carry a signature that verifies over exactly the stored record,
its stored hash must be that record's hash, its record must say the position it is stored at, and it must name the
previous entry's hash; the signed head must name the last entry. What breaks says what happened, and where:
- altered: a stored record, hash or signature differs from what was signed (one changed byte is enough);
- deleted: a position is missing (a gap, or the head names an entry that is not there);
- swapped: a record signed for one position is stored at another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from services.exchange.messagelog.signing import ENTRY_TYPE, HEAD_TYPE, BadSignature, canonical, digest, verify

GENESIS = "0" * 64
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
    by_chain: dict[str, list[Mapping[str, Any]]] = {}
    count = 0
    for entry in entries:
        by_chain.setdefault(str(entry["chain"]), []).append(entry)
        count += 1
    findings: list[Finding] = []
    head_of = {str(h["chain"]): h for h in heads}
    for chain in sorted(set(by_chain) | set(head_of)):
        rows = sorted(by_chain.get(chain, []), key=lambda r: int(r["seq"]))
        findings += _verify_chain(chain, rows, head_of.get(chain), jwks)
    return Report(count, findings)


def _signed_record(row: Mapping[str, Any], jwks: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The record as signed, and what is wrong with the stored row (None if nothing)."""
    try:
        signed = verify(str(row["signature"]), jwks, typ=ENTRY_TYPE)
    except BadSignature as error:
        return None, f"its signature is invalid ({error})"
    record = json.loads(signed)
    if canonical(row["record"]) != signed:
        return record, "the stored record differs from the signed one"
    if row["entry_hash"] != digest(record):
        return record, "the stored hash is not the record's hash"
    return record, None


def _verify_chain(
    chain: str, rows: list[Mapping[str, Any]], head: Mapping[str, Any] | None, jwks: Mapping[str, Any]
) -> list[Finding]:
    findings: list[Finding] = []
    expected_seq = 1
    signed_seqs: dict[int, int] = {}  # stored position -> the position its record was signed for
    records: dict[int, dict[str, Any] | None] = {}
    for row in rows:
        seq = int(row["seq"])
        record, problem = _signed_record(row, jwks)
        records[seq] = record
        if record is not None:
            signed_seqs[seq] = int(record.get("seq", -1))
        if (problem is not None and record is None) or problem is not None:
            findings.append(Finding(chain, seq, "altered", problem))
    # The hash of the record signed for each position, wherever it is stored: links are checked against content.
    hash_signed_for = {int(record["seq"]): digest(record) for record in records.values() if record is not None}
    hash_signed_for[0] = GENESIS
    for row in rows:
        seq = int(row["seq"])
        if seq > expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq} to {seq - 1}"
            findings.append(Finding(chain, expected_seq, "deleted", f"entry {missing} is missing before entry {seq}"))
        record = records.get(seq)
        signed_seq = signed_seqs.get(seq)
        if record is not None and signed_seq != seq:
            partner = next((s for s, v in signed_seqs.items() if v == seq), None)
            where = f"; entry {signed_seq}'s record and entry {partner}'s are exchanged" if partner else ""
            findings.append(Finding(chain, seq, "swapped", f"stored at {seq} but signed for {signed_seq}{where}"))
        elif record is not None and signed_seq is not None:
            previous = hash_signed_for.get(signed_seq - 1)
            if previous is not None and record.get("prev_hash") != previous and not any(f.seq == seq for f in findings):
                findings.append(Finding(chain, seq, "altered", "it does not name the previous entry's hash"))
        expected_seq = seq + 1
    findings += _verify_head(chain, rows, head, jwks)
    return sorted(set(findings), key=lambda f: (f.seq, f.kind))


def _verify_head(
    chain: str, rows: list[Mapping[str, Any]], head: Mapping[str, Any] | None, jwks: Mapping[str, Any]
) -> list[Finding]:
    last_seq = int(rows[-1]["seq"]) if rows else 0
    if head is None:
        return [Finding(chain, last_seq, "deleted", "the chain's signed head is missing")] if rows else []
    if head.get("signature") is None:
        if int(head["seq"]) == 0 and not rows:
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
    if rows and signed["entry_hash"] != rows[-1]["entry_hash"]:
        return [Finding(chain, last_seq, "altered", "the last entry is not the one the signed head names")]
    return []

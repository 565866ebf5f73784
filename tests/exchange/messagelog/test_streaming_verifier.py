"""The verifier walks a log a row at a time, keeping a few rows, and finds exactly what a verifier holding each whole
chain in memory finds (that earlier verifier is kept here as the oracle); the export and the verification read the
log a page at a time, in one snapshot, so they agree with each other even while fetches append."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.keys import SigningKey
from services.exchange.messagelog import reading
from services.exchange.messagelog.signing import ENTRY_TYPE, HEAD_TYPE, canonical, digest, sign, sign_entry
from services.exchange.messagelog.verify import GENESIS, Finding, _signed_record, _verify_head, verify_log
from tests.exchange.exchange_helpers import BENEFIT_CHECK, CIVIL, ExchangeApi

KEY = SigningKey.generate()
JWKS = KEY.jwks()
AUDITOR = ("auditor",)


def _oracle_chain(chain: str, rows: list[Mapping[str, Any]], head: Mapping[str, Any] | None) -> list[Finding]:
    """The verifier this one replaced, which held the whole chain: every record, and the position each was signed
    for, before walking it."""
    findings: list[Finding] = []
    expected_seq = 1
    signed_seqs: dict[int, int] = {}
    records: dict[int, dict[str, Any] | None] = {}
    for row in rows:
        seq = int(row["seq"])
        record, _, problem = _signed_record(row, JWKS)
        records[seq] = record
        if record is not None:
            signed_seqs[seq] = int(record.get("seq", -1))
        if problem is not None:
            findings.append(Finding(chain, seq, "altered", problem))
    # The hash of the record signed for each position: the one stored there if it is in place, otherwise the last
    # one stored elsewhere (a copy of a record elsewhere is named as swapped; the chain's own record is the link).
    hash_signed_for = {int(record["seq"]): digest(record) for record in records.values() if record is not None}
    hash_signed_for |= {seq: digest(record) for seq, record in records.items() if record and record["seq"] == seq}
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
    findings += _verify_head(chain, rows[-1] if rows else None, head, JWKS)
    return sorted(set(findings), key=lambda f: (f.seq, f.kind, f.detail))


def _oracle(entries: list[dict[str, Any]], heads: list[dict[str, Any]]) -> list[Finding]:
    by_chain: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_chain.setdefault(entry["chain"], []).append(entry)
    head_of = {h["chain"]: h for h in heads}
    found: list[Finding] = []
    for chain in sorted(set(by_chain) | set(head_of)):
        rows = sorted(by_chain.get(chain, []), key=lambda r: r["seq"])
        found += _oracle_chain(chain, rows, head_of.get(chain))
    return found


def _chain(chain: str, length: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, previous = [], GENESIS
    for seq in range(1, length + 1):
        record = {"chain": chain, "seq": seq, "prev_hash": previous, "message_id": f"m{seq}"}
        previous = digest(record)
        rows.append({"chain": chain, "seq": seq, "record": record, "entry_hash": previous,
                     "signature": sign_entry(KEY, canonical(record))})  # fmt: skip
    head = {"chain": chain, "seq": length, "entry_hash": previous,
            "signature": sign(KEY, {"chain": chain, "seq": length, "entry_hash": previous}, typ=HEAD_TYPE)}  # fmt: skip
    return rows, head


CHAINS = {name: _chain(name, 9) for name in ("consumer", "provider")}
_CONTENT = ("record", "entry_hash", "signature")

tampering = st.lists(
    st.tuples(
        st.sampled_from(["delete", "swap", "copy", "alter", "rehash", "resign", "move", "unlink"]),
        st.sampled_from(sorted(CHAINS)),
        st.integers(0, 8),
        st.integers(0, 8),
    ),
    max_size=4,
)
head_tampering = st.sampled_from(["none", "missing", "unsigned", "behind"])
# Entries written before signatures were detached carry their record inside the signature: a log may hold both.
attached = st.sets(st.integers(1, 9), max_size=9)


def _tampered(
    operations: list[tuple[str, str, int, int]],
    head_change: str,
    attached: Collection[int] = (),
) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    chains = {name: [dict(row) for row in rows] for name, (rows, _) in CHAINS.items()}
    for rows in chains.values():
        for row in rows:
            if row["seq"] in attached:
                row["signature"] = sign(KEY, row["record"], typ=ENTRY_TYPE)
    heads = {name: dict(head) for name, (_, head) in CHAINS.items()}
    for operation, name, i, j in operations:
        rows = chains[name]
        if not rows:
            continue
        a, b = rows[i % len(rows)], rows[j % len(rows)]
        if operation == "delete":
            rows.remove(a)
        elif operation == "swap":
            moved = {k: a[k] for k in _CONTENT}
            a.update({k: b[k] for k in _CONTENT})
            b.update(moved)
        elif operation == "copy":
            a.update({k: b[k] for k in _CONTENT})
        elif operation == "alter":
            a["record"] = {**a["record"], "message_id": a["record"]["message_id"] + "x"}
        elif operation == "rehash":
            a["entry_hash"] = "f" * 64
        elif operation == "resign":
            a["signature"] = a["signature"][:-4] + ("AAAA" if not a["signature"].endswith("AAAA") else "BBBB")
        elif operation == "move":
            taken = {row["seq"] for row in rows}
            a["seq"] = max(taken) + 1 + j
        elif operation == "unlink":  # a record signed with another previous hash: the chain's link is broken
            record = {**a["record"], "prev_hash": "e" * 64}
            a.update(record=record, entry_hash=digest(record), signature=sign_entry(KEY, canonical(record)))
    if head_change == "missing":
        heads.pop("provider")
    elif head_change == "unsigned":
        heads["consumer"]["signature"] = None
    elif head_change == "behind":
        heads["consumer"]["signature"] = sign(KEY, {"chain": "consumer", "seq": 3, "entry_hash": "0"}, typ=HEAD_TYPE)
    entries = [row for name in chains for row in chains[name]]
    return entries, list(heads.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=tampering, head_change=head_tampering, attached=attached, shuffle=st.randoms(use_true_random=False))
def test_the_row_at_a_time_verifier_finds_what_the_whole_chain_verifier_found(
    operations, head_change, attached, shuffle
):
    entries, heads = _tampered(operations, head_change, attached)
    expected = _oracle(entries, heads)
    shuffle.shuffle(entries)  # an export file in any order: verify_log sorts it, then feeds the rows one by one
    report = verify_log(entries, heads, JWKS)
    assert report.findings == expected
    assert report.entries == len(entries)
    assert report.ok == (not expected)
    if head_change != "none" or any(op in ("delete", "alter", "rehash", "resign", "unlink") for op, *_ in operations):
        assert not report.ok  # these always leave a mark (a swap or copy of a row with itself does not)


def test_entries_signed_with_their_record_attached_still_verify_and_a_change_to_one_is_named():
    """A log written before signatures were detached holds each record a second time inside its signature; it
    verifies as before, and a changed record is named from the record its signature carries."""
    entries, heads = _tampered([], "none", attached=set(range(1, 10)))
    assert all(e["signature"].split(".")[1] for e in entries)
    assert verify_log(entries, heads, JWKS).ok
    fourth = next(e for e in entries if (e["chain"], e["seq"]) == ("consumer", 4))
    fourth["record"] = {**fourth["record"], "message_id": "m4x"}
    assert verify_log(entries, heads, JWKS).findings == [
        Finding("consumer", 4, "altered", "the stored record differs from the signed one")
    ]


@pytest.mark.parametrize("stored", ["not an object", ["m1"], {"chain": "consumer", "seq": float("nan")}])
def test_a_stored_record_that_is_not_a_json_object_is_named_altered(stored):
    entries, heads = _tampered([], "none")
    entries[0]["record"] = stored
    assert verify_log(entries, heads, JWKS).findings == [
        Finding("consumer", 1, "altered", "the stored record is not a JSON object with a canonical form")
    ]


def test_a_changed_record_under_a_detached_signature_is_named_and_does_not_unlink_the_next_entry():
    entries, heads = _tampered([("alter", "consumer", 2, 0)], "none")  # the third entry of the chain
    (finding,) = verify_log(entries, heads, JWKS).findings
    assert (finding.chain, finding.seq, finding.kind) == ("consumer", 3, "altered")
    assert "signature is invalid" in finding.detail and "stored record or its signature was changed" in finding.detail


async def test_export_and_verification_read_the_log_a_page_at_a_time(api: ExchangeApi, monkeypatch):
    monkeypatch.setattr(reading, "PAGE", 3)  # 14 entries: five pages, the last one short
    await api.birth("sub_a")
    await api.consumer("rp-pages", grants={CIVIL: (["given_name"], [BENEFIT_CHECK])})
    for _ in range(7):
        fetched = await api.consented(CIVIL, ["given_name"], client_id="rp-pages", sub="sub_a")
        assert fetched.status_code == 200, fetched.text
    response = await api.call("GET", "/v1/message-log/export", roles=AUDITOR)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    export = json.loads(response.content)
    assert [(e["chain"], e["seq"]) for e in export["entries"]] == [
        (chain, seq) for chain in ("consumer", "provider") for seq in range(1, 8)
    ]
    assert {h["chain"]: h["seq"] for h in export["heads"]} == {"consumer": 7, "provider": 7}
    assert verify_log(export["entries"], export["heads"], export["jwks"]).ok
    report = await api.ok("GET", "/v1/message-log/verify", roles=AUDITOR)
    assert (report["ok"], report["entries"], report["findings"]) == (True, 14, [])


async def test_an_export_and_a_verification_during_fetches_see_one_moment(api: ExchangeApi, monkeypatch):
    """While fetches append (in other transactions, on PostgreSQL in parallel), each export's heads name exactly
    the last entries it holds, and each verification passes."""
    monkeypatch.setattr(reading, "PAGE", 4)
    await api.birth("sub_a")
    await api.consumer("rp-busy", grants={CIVIL: (["given_name"], [BENEFIT_CHECK])})

    async def fetches() -> None:
        for _ in range(12):
            fetched = await api.consented(CIVIL, ["given_name"], client_id="rp-busy", sub="sub_a")
            assert fetched.status_code == 200, fetched.text

    async def audits() -> list[tuple[dict[str, Any], dict[str, Any]]]:
        seen = []
        for _ in range(6):
            export = json.loads((await api.call("GET", "/v1/message-log/export", roles=AUDITOR)).content)
            report = await api.ok("GET", "/v1/message-log/verify", roles=AUDITOR)
            seen.append((export, report))
            await asyncio.sleep(0)
        return seen

    _, _, seen = await asyncio.gather(fetches(), fetches(), audits())
    for export, report in seen:
        assert report["ok"] is True and report["findings"] == [], report
        last = {}
        for entry in export["entries"]:
            last[entry["chain"]] = entry["seq"]
        assert {h["chain"]: h["seq"] for h in export["heads"] if h["seq"]} == last
        assert verify_log(export["entries"], export["heads"], export["jwks"]).ok

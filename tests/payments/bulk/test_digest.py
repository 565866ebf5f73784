"""The items' digest in a batch's signed records is SHA-256 over their RFC 8785 form: a verifier recomputing it with
any JCS implementation gets the same bytes, whatever the items hold."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
import rfc8785
from sqlalchemy import text

from services.payments.bulk.repository import DIGESTED, BulkRepository
from services.payments.bulk.service import items_digest
from services.payments.bulk.synthetic import create_batch
from tests.payments.bulk.bulk_helpers import PROGRAMME_CLIENT, as_programme, batch, beneficiary
from tests.payments.payments_helpers import PaymentsApi


def test_the_items_canonical_form_is_rfc_8785_byte_for_byte():
    items = [
        {"seq": 0, "end_to_end_id": "E2E-1", "person_ref": "sub-1", "amount": 2500, "status": "paid", "reason": None,
         "account_id": "bank-a:customer:000001"},
        {"seq": 1, "end_to_end_id": 'quote " and \\ back', "person_ref": "Zoë-Ōta-名前", "amount": 0,
         "status": "failed", "reason": "unresolved", "account_id": None},
        {"seq": 2, "end_to_end_id": "tab\there\nnew\x01\x1f\x7f", "person_ref": "\u2028\u2029", "amount": -7,
         "status": "pending", "reason": None, "account_id": "emoji \U0001f600"},
    ]  # fmt: skip
    assert items_digest(items) == hashlib.sha256(rfc8785.dumps(items)).hexdigest()


def test_amounts_beyond_safe_integers_take_the_librarys_number_form():
    items = [{"seq": 0, "amount": 2**53 + 1, "status": "pending"}]
    try:
        expected = rfc8785.dumps(items)
    except Exception as refusal:  # the library refuses integers it cannot write exactly; so must the digest
        try:
            items_digest(items)
        except type(refusal):
            return
        raise AssertionError("an unsafe integer was hashed where RFC 8785 refuses it") from None
    assert items_digest(items) == hashlib.sha256(expected).hexdigest()


# Items a batch could never get through the API (its patterns refuse them), written straight into the table: on
# PostgreSQL the database writes and hashes the chunk's canonical form itself, and must agree with Python byte for
# byte on every kind of string, a missing account, a reason and a long amount.
_ODD_ITEMS = [
    (0, "E2E-1", "sub-1", 2500, "paid", None, "bank-a:customer:000001"),
    (1, 'quote " and \\ back', "Zoë-Ōta-名前", 0, "failed", "unresolved", None),
    (2, "tab\there\nnew\x01\x1f\x7f\b\f\r", "\u2028\u2029 \u202e", 2**53 - 1, "pending", None, "emoji \U0001f600"),
    (3, "\\u0041 not an escape", "/slash/", 1, "paid", None, "ünïcödé"),
]


async def _with_odd_items(payments, api, batch_id: str, amount_of_last: int | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    now = payments.app.state.clock.now()
    source = await api.open_account("central-bank", kind="programme", owner="prog-digest", address=batch_id)
    async with payments.app.state.sessionmaker() as session, session.begin():
        await create_batch(session, batch_id=batch_id, programme="prog-digest", source_account_id=source["id"],
                           prefix="x", count=0, amount=0, currency="USD", now=now)  # fmt: skip
        for seq, e2e, person, listed, status, reason, account in _ODD_ITEMS:
            last = seq == len(_ODD_ITEMS) - 1
            amount = amount_of_last if last and amount_of_last is not None else listed
            await session.execute(
                text("INSERT INTO batch_items (batch_id, seq, end_to_end_id, person_ref, amount, status, reason, "
                     "account_id) VALUES (:b, :seq, :e2e, :person, :amount, :status, :reason, :account)"),
                {"b": batch_id, "seq": seq, "e2e": e2e, "person": person, "amount": amount, "status": status,
                 "reason": reason, "account": account},
            )  # fmt: skip
    return {"b": batch_id, "lo": 0, "hi": len(_ODD_ITEMS)}


async def test_postgresql_hashes_a_chunk_as_python_does_whatever_its_items_hold(payments, api, database_url):
    if database_url == "sqlite":
        pytest.skip("SQLite has no sha256: the job hashes a chunk in Python there")
    p = await _with_odd_items(payments, api, "bat_digest")
    async with payments.app.state.sessionmaker() as session:
        repository = BulkRepository.from_session(session)
        rows = [dict(zip(DIGESTED, row, strict=True)) for row in await repository.chunk_items(p)]
        assert len(rows) == len(_ODD_ITEMS)
        assert await repository.chunk_digest(p) == items_digest(rows) == hashlib.sha256(rfc8785.dumps(rows)).hexdigest()
        # An empty range is the digest of an empty list, as in Python.
        assert await repository.chunk_digest({**p, "lo": 10, "hi": 20}) == items_digest([])


async def test_an_amount_beyond_safe_integers_is_left_to_python(payments, api, database_url):
    if database_url == "sqlite":
        pytest.skip("SQLite has no sha256: the job hashes a chunk in Python there")
    p = await _with_odd_items(payments, api, "bat_unsafe", amount_of_last=2**53)
    async with payments.app.state.sessionmaker() as session:
        assert await BulkRepository.from_session(session).chunk_digest(p) is None


async def test_each_chunk_record_digests_the_items_as_the_items_endpoint_shows_them(service_factory, gateway):
    """What an auditor does: read a paid batch's items and its signed chunk records, recompute each chunk's digest
    with an RFC 8785 library, and find it in the record."""
    svc = await service_factory("payments", bulk_chunk_size=3, expiry_interval_seconds=0, bulk_interval_seconds=0)
    api = PaymentsApi(svc, gateway)
    account = await api.open_account("central-bank", kind="programme", owner=PROGRAMME_CLIENT, address="prog-social")
    await api.fund(account["id"], "100.00")
    for sub in ("sub-d0", "sub-d1", "sub-d3", "sub-d4"):
        await beneficiary(api, sub)
    people = [("sub-d0", "1.00"), ("sub-d1", "2.50"), ("sub-d2", "3.00"), ("sub-d3", "0.01"), ("sub-d4", "4.00")]
    submitted = await as_programme(api, "POST", "/v1/bulk/batches", json=batch("digests", people))
    batch_id = submitted.json()["batch_id"]
    assert await svc.app.state.bulk_worker.run_once() == 2
    items = (await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}/items")).json()["items"]
    records = (await api.call("GET", f"/v1/payments/{batch_id}/records", roles=("auditor",))).json()["steps"]
    chunks = [r["record"] for r in records if r["step"] == "commit"]
    assert [(c["first_seq"], c["last_seq"]) for c in chunks] == [(0, 2), (3, 4)]
    for chunk in chunks:
        shown = [
            {**{k: item[k] for k in DIGESTED}, "amount": int(Decimal(item["amount"]) * 100)}
            for item in items
            if chunk["first_seq"] <= item["seq"] <= chunk["last_seq"]
        ]
        assert chunk["items_sha256"] == hashlib.sha256(rfc8785.dumps(shown)).hexdigest()
    assert [i["status"] for i in items] == ["paid", "paid", "failed", "paid", "paid"]

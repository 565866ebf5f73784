"""Bulk G2P disbursement: each beneficiary resolved through the mapper and paid, per-item status, nothing lost."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.payments.bulk.bulk_helpers import PROGRAMME_CLIENT, as_programme, batch, beneficiary
from tests.payments.payments_helpers import events, table_rows


async def test_a_batch_pays_each_resolved_beneficiary_and_reports_every_failure(api, payments, programme):
    paid_a = await beneficiary(api, "sub-1")
    paid_b = await beneficiary(api, "sub-2", "momo", kind="wallet", address="+000555302")
    closed = await beneficiary(api, "sub-3", "bank-b")
    await beneficiary(api, "sub-5", "bank-b", currency="KES")
    async with payments.app.state.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE accounts SET status = 'closed' WHERE id = :id"), {"id": closed["id"]})
    body = batch("cycle-2026-01", [("sub-1", "25.00"), ("sub-2", "30.50"), ("sub-3", "10.00"), ("sub-4", "5.00"),
                                   ("sub-5", "7.00")], control_sum="77.50")  # fmt: skip
    submitted = await as_programme(api, "POST", "/v1/bulk/batches", json=body)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["state"] == "received" and submitted.json()["pending_count"] == 5
    batch_id = submitted.json()["batch_id"]

    assert await payments.app.state.bulk_worker.run_once() == 1
    status = (await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}")).json()
    assert (status["state"], status["paid_count"], status["failed_count"], status["progress"]) == (
        "completed",
        2,
        3,
        1.0,
    )
    assert status["paid_sum"] == "55.50"
    items = (await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}/items")).json()["items"]
    assert [(i["person_ref"], i["status"], i["reason"]) for i in items] == [
        ("sub-1", "paid", None), ("sub-2", "paid", None), ("sub-3", "failed", "account_closed"),
        ("sub-4", "failed", "unresolved"), ("sub-5", "failed", "currency_mismatch"),
    ]  # fmt: skip
    failed = (await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}/items?status=failed")).json()["items"]
    assert len(failed) == 3
    assert await api.balance(paid_a["id"]) == "25.00"
    assert await api.balance(paid_b["id"]) == "30.50"
    assert await api.balance(programme["id"]) == "944.50"  # only what was paid left the programme's account
    assert (await api.check())["balanced"] is True
    [failure] = await events(payments, "payments.disbursement.failed")
    assert [(i["person_ref"], i["reason"]) for i in failure["payload"]["items"]] == [
        ("sub-3", "account_closed"), ("sub-4", "unresolved"), ("sub-5", "currency_mismatch")
    ]  # fmt: skip
    assert len(await events(payments, "payments.batch.completed")) == 1


async def test_a_batch_runs_in_chunks_and_resumes_where_it_stopped(service_factory, gateway):
    from tests.payments.payments_helpers import PaymentsApi

    svc = await service_factory("payments", bulk_chunk_size=2, expiry_interval_seconds=0, bulk_interval_seconds=0)
    api = PaymentsApi(svc, gateway)
    account = await api.open_account("central-bank", kind="programme", owner=PROGRAMME_CLIENT, address="prog-social")
    await api.fund(account["id"], "100.00")
    subs = [f"sub-c{n}" for n in range(5)]
    for sub in subs:
        await beneficiary(api, sub)
    submitted = await as_programme(api, "POST", "/v1/bulk/batches", json=batch("chunks", [(s, "1.00") for s in subs]))
    batch_id = submitted.json()["batch_id"]
    assert await svc.app.state.bulk_worker.run_once(max_chunks=1) == 1
    status = (await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}")).json()
    assert (status["state"], status["paid_count"], status["progress"]) == ("running", 2, 0.4)
    assert await svc.app.state.bulk_worker.run_once() == 2
    status = (await as_programme(api, "GET", f"/v1/bulk/batches/{batch_id}")).json()
    assert (status["state"], status["paid_count"]) == ("completed", 5)
    assert len([p for p in await table_rows(svc, "postings") if p["code"] == "disbursement"]) == 5


async def test_without_funds_no_one_is_paid_and_every_item_says_why(api, payments):
    poor = await api.open_account("central-bank", kind="programme", owner=PROGRAMME_CLIENT, address="prog-social")
    await api.fund(poor["id"], "10.00")
    await beneficiary(api, "sub-p1")
    await beneficiary(api, "sub-p2")
    submitted = await as_programme(
        api, "POST", "/v1/bulk/batches", json=batch("poor", [("sub-p1", "6.00"), ("sub-p2", "6.00")])
    )
    await payments.app.state.bulk_worker.run_once()
    items = (await as_programme(api, "GET", f"/v1/bulk/batches/{submitted.json()['batch_id']}/items")).json()["items"]
    assert {(i["status"], i["reason"]) for i in items} == {("failed", "insufficient_funds")}
    assert await api.balance(poor["id"]) == "10.00"


async def test_duplicates_and_wrong_totals_reject_the_whole_batch(api, programme):
    await beneficiary(api, "sub-d1")
    twice = await as_programme(
        api, "POST", "/v1/bulk/batches", json=batch("dup", [("sub-d1", "1.00"), ("sub-d1", "1.00")])
    )
    assert twice.status_code == 422 and twice.json()["code"] == "payments.invalid_batch"
    wrong_sum = await as_programme(
        api, "POST", "/v1/bulk/batches", json=batch("sum", [("sub-d1", "1.00")], control_sum="2.00")
    )
    assert wrong_sum.status_code == 422
    first = await as_programme(api, "POST", "/v1/bulk/batches", json=batch("once", [("sub-d1", "1.00")]))
    again = await as_programme(api, "POST", "/v1/bulk/batches", json=batch("once", [("sub-d1", "1.00")]))
    assert first.status_code == 202
    assert again.status_code == 409 and again.json()["batch_id"] == first.json()["batch_id"]
    assert len(await table_rows(api.svc, "batches")) == 1


async def test_a_programme_pays_only_from_its_own_account_and_sees_only_its_batches(api, programme):
    await beneficiary(api, "sub-x")
    body = batch("other", [("sub-x", "1.00")])
    foreign = await as_programme(api, "POST", "/v1/bulk/batches", json=body, client_id="prog-other")
    assert foreign.status_code == 403 and foreign.json()["rule_id"] == "SG-SEC-1"
    mine = await as_programme(api, "POST", "/v1/bulk/batches", json=body)
    hidden = await as_programme(api, "GET", f"/v1/bulk/batches/{mine.json()['batch_id']}", client_id="prog-other")
    assert hidden.status_code == 404


@pytest.mark.rule("SG-CONSENT-6")
async def test_an_entitlement_is_paid_to_someone_who_declined_every_optional_use(api, payments, programme):
    """A disbursement is an essential service: it asks for no consent, so a beneficiary who gave none (declined every
    optional use) is paid, and a programme cannot make an item conditional on one (the batch has no such field)."""
    account = await beneficiary(api, "sub-opted-out")
    conditional = batch("cycle-conditional", [("sub-opted-out", "10.00")])
    conditional["items"][0]["requires_consent"] = "ANALYTICS"
    refused = await as_programme(api, "POST", "/v1/bulk/batches", json=conditional)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")

    submitted = await as_programme(
        api, "POST", "/v1/bulk/batches", json=batch("cycle-free", [("sub-opted-out", "10.00")])
    )
    assert submitted.status_code == 202, submitted.text
    assert await payments.app.state.bulk_worker.run_once() == 1
    items = (await as_programme(api, "GET", f"/v1/bulk/batches/{submitted.json()['batch_id']}/items")).json()["items"]
    assert [(i["person_ref"], i["status"], i["reason"]) for i in items] == [("sub-opted-out", "paid", None)]
    assert await api.balance(account["id"]) == "10.00"

"""A person's received payments (/v1/me/payments): their transfers and disbursement items, never anyone else's, each
with the signed record a dispute links to."""

from __future__ import annotations

from typing import Any

import pytest

from tests.payments.bulk.bulk_helpers import PROGRAMME_CLIENT, as_programme, batch, beneficiary
from tests.payments.payments_helpers import SUBJECT, pay, transfer_body


async def _mine(api, sub: str, query: str = "") -> Any:  # type: ignore[no-untyped-def]
    return await api.call("GET", f"/v1/me/payments{query}", roles=SUBJECT, subject_ref=sub)


@pytest.fixture
async def paid(api, payments, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """sub-ana receives a transfer and a disbursement; sub-ben receives a disbursement; sub-ana's payer is someone."""
    programme = await api.open_account("central-bank", kind="programme", owner=PROGRAMME_CLIENT, address="prog-social")
    await api.fund(programme["id"], "500.00")
    ana = await beneficiary(api, "sub-ana", "bank-b")
    await beneficiary(api, "sub-ben", "momo", kind="wallet", address="+000555777")
    payer = await api.open_account("bank-a", owner="sub-payer")
    await api.fund(payer["id"], "100.00")
    await pay(api, "t-ana-1", payer, ana, "12.50")
    clock.advance(seconds=60)
    submitted = await as_programme(api, "POST", "/v1/bulk/batches",
                                   json=batch("cycle-1", [("sub-ana", "40.00"), ("sub-ben", "35.00")]))  # fmt: skip
    assert submitted.status_code == 202, submitted.text
    assert await payments.app.state.bulk_worker.run_once() == 1
    return {"ana": ana, "payer": payer, "batch_id": submitted.json()["batch_id"]}


async def test_a_person_sees_their_transfer_and_disbursement_newest_first(api, paid):
    response = await _mine(api, "sub-ana")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["kind"], i["amount"], i["state"]) for i in items] == [
        ("disbursement", {"amount": "40.00", "currency": "USD"}, "paid"),
        ("transfer", {"amount": "12.50", "currency": "USD"}, "paid"),
    ]
    disbursement, transfer = items
    assert disbursement["programme"] == PROGRAMME_CLIENT and disbursement["payer_fsp"] is None
    assert disbursement["payment_id"] == f"{paid['batch_id']}:0"
    assert (disbursement["account_id"], disbursement["fsp_id"]) == (paid["ana"]["id"], "bank-b")
    assert (transfer["payer_fsp"], transfer["programme"], transfer["account_id"]) == ("bank-a", None, paid["ana"]["id"])
    assert transfer["initiated_at"] < disbursement["initiated_at"]
    assert "address" in transfer and transfer["address"] == paid["ana"]["address"]
    assert paid["payer"]["address"] not in response.text  # the payer's own address is theirs
    assert response.json()["next_cursor"] is None


@pytest.mark.rule("SG-GRIEV-4")
async def test_each_payment_names_the_signed_record_a_dispute_links_to(api, paid):
    disbursement, transfer = (await _mine(api, "sub-ana")).json()["items"]
    for payment in (disbursement, transfer):
        records = await api.operator("GET", f"/v1/payments/{payment['transaction_id']}/records")
        assert records.status_code == 200, records.text
        steps = {step["record_id"]: step for step in records.json()["steps"]}
        assert payment["record_id"] in steps
    assert steps[transfer["record_id"]]["step"] == "commit"  # the transfer's latest step
    chunk = (await api.operator("GET", f"/v1/payments/{paid['batch_id']}/records")).json()["steps"]
    commit = {s["record_id"]: s for s in chunk}[disbursement["record_id"]]
    assert commit["step"] == "commit" and commit["record"]["first_seq"] <= 0 <= commit["record"]["last_seq"]
    dispute = await api.call("POST", f"/v1/payments/{transfer['transaction_id']}/disputes", roles=SUBJECT,
                             subject_ref="sub-ana", json={"reason": "wrong_amount"})  # fmt: skip
    assert dispute.status_code == 201, dispute.text
    assert dispute.json()["record_id"] == transfer["record_id"]


@pytest.mark.rule("SG-SEC-1")
async def test_a_person_never_sees_another_persons_payments(api, paid):
    ben = (await _mine(api, "sub-ben")).json()["items"]
    assert [(i["kind"], i["amount"]["amount"], i["programme"]) for i in ben] == [
        ("disbursement", "35.00", PROGRAMME_CLIENT)
    ]
    assert ben[0]["payment_id"] == f"{paid['batch_id']}:1"
    assert (await _mine(api, "sub-payer")).json()["items"] == []  # paying is not receiving
    assert (await _mine(api, "sub-nobody")).json()["items"] == []
    for other in (("fsp",), ("programme",), ("payments_operator",)):
        denied = await api.call("GET", "/v1/me/payments", roles=other, subject_ref="sub-ana")
        assert denied.status_code == 403, (other, denied.text)


async def test_pending_and_failed_payments_show_with_their_reason_and_pages_are_stable(api, payments, paid, clock):
    failed = await as_programme(api, "POST", "/v1/bulk/batches",
                                json=batch("cycle-2", [("sub-nolink", "5.00")]))  # fmt: skip
    assert failed.status_code == 202
    await payments.app.state.bulk_worker.run_once()
    [item] = (await _mine(api, "sub-nolink")).json()["items"]
    assert (item["state"], item["reason"], item["account_id"], item["fsp_id"]) == ("failed", "unresolved", None, None)
    assert item["record_id"] is not None
    clock.advance(seconds=60)
    reserved = await transfer_body(api, "t-ana-2", paid["payer"], paid["ana"], "1.00")
    assert (await api.fsp("bank-a", "POST", "/v1/transfers", json=reserved)).status_code == 201
    first = (await _mine(api, "sub-ana", "?limit=2")).json()
    assert [(i["payment_id"], i["state"]) for i in first["items"]] == [
        ("t-ana-2", "pending"),
        (f"{paid['batch_id']}:0", "paid"),
    ]
    assert first["items"][0]["record_id"] is not None and first["items"][0]["completed_at"] is None
    rest = (await _mine(api, "sub-ana", f"?limit=2&cursor={first['next_cursor']}")).json()
    assert [i["payment_id"] for i in rest["items"]] == ["t-ana-1"] and rest["next_cursor"] is None


async def test_a_bad_cursor_is_a_problem_not_an_error(api, paid):
    from services.common.paging import encode_cursor

    for cursor in ("not-a-cursor!", encode_cursor("yesterday|t-1"), encode_cursor("2026-01-01T00:00:00|t-1")):
        response = await _mine(api, "sub-ana", f"?cursor={cursor}")
        assert response.status_code == 422, (cursor, response.text)
        assert response.headers["content-type"] == "application/problem+json"

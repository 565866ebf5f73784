"""Single transfers in Mojaloop's shape: lookup, quote, prepare (reserve), fulfil (commit) or abort / expire."""

from __future__ import annotations

from typing import Any

import pytest

from tests.payments.payments_helpers import CURRENCY, PROGRAMME, events, fulfilment_for, table_rows, transfer_body


@pytest.fixture
async def parties(api) -> tuple[dict[str, Any], dict[str, Any]]:  # type: ignore[no-untyped-def]
    payer = await api.open_account("bank-a", owner="sub-payer", address="1001")
    payee = await api.open_account("bank-b", owner="sub-payee", address="2002")
    await api.fund(payer["id"], "100.00")
    return payer, payee


async def _prepare(api, body: dict[str, Any], fsp: str = "bank-a"):  # type: ignore[no-untyped-def]
    return await api.fsp(fsp, "POST", "/v1/transfers", json=body)


async def _fulfil(api, transfer_id: str, fulfilment: dict[str, str], fsp: str = "bank-b"):  # type: ignore[no-untyped-def]
    return await api.fsp(fsp, "POST", f"/v1/transfers/{transfer_id}/fulfil", json=fulfilment)


async def _quote(api, payer, payee, amount: str, quote_id: str = "q-1"):  # type: ignore[no-untyped-def]
    body = {
        "quote_id": quote_id,
        "payer": {"fsp_id": "bank-a", "address": payer["address"]},
        "payee": {"fsp_id": "bank-b", "address": payee["address"]},
        "amount": {"amount": amount, "currency": CURRENCY},
    }
    return await api.fsp("bank-a", "POST", "/v1/quotes", json=body)


async def test_party_lookup_by_wallet_number_and_by_person(api):
    wallet = await api.open_account("momo", owner="sub-wa", kind="wallet", address="+000555100")
    by_number = await api.fsp("bank-a", "GET", "/v1/parties/MSISDN/+000555100")
    assert by_number.status_code == 200
    assert by_number.json()["fsp_id"] == "momo" and by_number.json()["account_kind"] == "wallet"
    assert "name" not in by_number.json()
    await api.fsp(
        "momo",
        "POST",
        "/v1/mapper/links",
        json={"fsp_id": "momo", "address": wallet["address"], "person_ref": "sub-wa"},
    )
    by_person = await api.call("GET", "/v1/parties/PERSONAL_ID/sub-wa", roles=PROGRAMME)
    assert by_person.status_code == 200 and by_person.json()["address"] == "+000555100"
    assert (await api.fsp("bank-a", "GET", "/v1/parties/MSISDN/+000555999")).status_code == 404
    assert (await api.fsp("bank-a", "GET", "/v1/parties/PERSONAL_ID/sub-none")).json()[
        "code"
    ] == "payments.party_not_found"


async def test_quote_then_prepare_reserves_and_fulfil_commits(api, payments, parties, clock):
    payer, payee = parties
    quote = await _quote(api, payer, payee, "10.00")
    assert quote.status_code == 201, quote.text
    assert quote.json()["payer_fee"] == {"amount": "0.05", "currency": "USD"}  # 50 basis points
    assert quote.json()["payer_total"]["amount"] == "10.05"
    body = await transfer_body(api, "t-1", payer, payee, "10.00", quote_id="q-1")
    assert quote.json()["condition"] == body["condition"]

    prepared = await _prepare(api, body)
    assert prepared.status_code == 201, prepared.text
    assert prepared.json()["state"] == "reserved"
    held = await api.account(payer["id"])
    assert held["balance"]["amount"] == "100.00" and held["available"]["amount"] == "89.95"
    assert await api.balance(payee["id"]) == "0.00"

    committed = await _fulfil(api, "t-1", fulfilment_for(api, payee, "q-1"))
    assert committed.status_code == 200, committed.text
    assert committed.json()["state"] == "committed"
    assert await api.balance(payer["id"]) == "89.95"
    assert await api.balance(payee["id"]) == "10.00"
    assert await api.balance("bank-a:fees:USD") == "0.05"
    assert (await api.account(payer["id"]))["pending_debits"]["amount"] == "0.00"
    assert (await api.check())["balanced"] is True
    subjects = [e["subject"] for e in await events(payments) if e["subject"].startswith("payments.transfer")]
    assert subjects == ["payments.transfer.reserved", "payments.transfer.committed"]


async def test_a_fulfilment_that_does_not_hash_to_the_condition_commits_nothing(api, parties):
    payer, payee = parties
    await _prepare(api, await transfer_body(api, "t-2", payer, payee, "5.00"))
    wrong = await _fulfil(api, "t-2", fulfilment_for(api, payee, "something-else"))
    assert wrong.status_code == 422 and wrong.json()["code"] == "payments.invalid_fulfilment"
    assert (await api.fsp("bank-a", "GET", "/v1/transfers/t-2")).json()["state"] == "reserved"
    assert await api.balance(payee["id"]) == "0.00"
    right = await _fulfil(api, "t-2", fulfilment_for(api, payee, "t-2"))
    assert right.json()["state"] == "committed"


async def test_replays_answer_the_first_result_and_other_bodies_conflict(api, parties):
    payer, payee = parties
    body = await transfer_body(api, "t-3", payer, payee, "7.00")
    first = await _prepare(api, body)
    again = await _prepare(api, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["state"] == "reserved"
    other = await _prepare(api, {**body, "amount": {"amount": "8.00", "currency": CURRENCY}})
    assert other.status_code == 409 and other.json()["code"] == "payments.duplicate_with_other_values"
    for _ in range(2):
        done = await _fulfil(api, "t-3", fulfilment_for(api, payee, "t-3"))
        assert done.status_code == 200 and done.json()["state"] == "committed"
    assert (await _prepare(api, body)).json()["state"] == "committed"
    assert await api.balance(payer["id"]) == "93.00"
    assert await api.balance(payee["id"]) == "7.00"


async def test_an_expired_quote_and_a_condition_other_than_the_quotes_are_refused(api, parties, clock):
    payer, payee = parties
    await _quote(api, payer, payee, "3.00", quote_id="q-old")
    body = await transfer_body(api, "t-4", payer, payee, "3.00", quote_id="q-old")
    forged = await _prepare(api, {**body, "condition": body["condition"][::-1]})
    assert forged.status_code == 422 and forged.json()["code"] == "payments.quote_mismatch"
    clock.advance(seconds=61)
    expired = await _prepare(api, body)
    assert expired.status_code == 409 and expired.json()["code"] == "payments.quote_expired"
    assert (await api.account(payer["id"]))["available"]["amount"] == "100.00"


async def test_a_reservation_expires_on_the_clock_and_the_funds_come_back(api, payments, parties, clock):
    payer, payee = parties
    await _prepare(api, await transfer_body(api, "t-5", payer, payee, "40.00"))
    assert (await api.account(payer["id"]))["available"]["amount"] == "60.00"
    expiry = payments.app.state.expiry
    assert await expiry.run_once() == 0  # not yet due
    clock.advance(seconds=31)
    assert await expiry.run_once() == 1
    after = (await api.fsp("bank-b", "GET", "/v1/transfers/t-5")).json()
    assert (after["state"], after["abort_reason"]) == ("aborted", "expired")
    assert (await api.account(payer["id"]))["available"]["amount"] == "100.00"
    late = await _fulfil(api, "t-5", fulfilment_for(api, payee, "t-5"))
    assert late.status_code == 409 and late.json()["code"] == "payments.transfer_not_reserved"
    [aborted] = await events(payments, "payments.transfer.aborted")
    assert aborted["payload"]["reason"] == "expired"
    assert (await api.check())["balanced"] is True


async def test_a_fulfilment_after_expiry_releases_the_reservation_even_before_the_timer(api, parties, clock):
    payer, payee = parties
    await _prepare(api, await transfer_body(api, "t-6", payer, payee, "20.00"))
    clock.advance(seconds=30)
    late = await _fulfil(api, "t-6", fulfilment_for(api, payee, "t-6"))
    assert late.status_code == 409 and late.json()["code"] == "payments.transfer_expired"
    assert (await api.fsp("bank-a", "GET", "/v1/transfers/t-6")).json()["abort_reason"] == "expired"
    assert (await api.account(payer["id"]))["available"]["amount"] == "100.00"


async def test_the_payee_fsp_aborts_and_the_reservation_is_released(api, parties):
    payer, payee = parties
    await _prepare(api, await transfer_body(api, "t-7", payer, payee, "9.00"))
    for _ in range(2):
        aborted = await api.fsp("bank-b", "POST", "/v1/transfers/t-7/abort", json={"reason": "payee unknown"})
        assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
    assert (await api.account(payer["id"]))["available"]["amount"] == "100.00"
    late = await _fulfil(api, "t-7", fulfilment_for(api, payee, "t-7"))
    assert late.status_code == 409


async def test_insufficient_funds_reserve_nothing(api, parties):
    payer, payee = parties
    refused = await _prepare(api, await transfer_body(api, "t-8", payer, payee, "100.01"))
    assert refused.status_code == 409 and refused.json()["code"] == "payments.insufficient_funds"
    assert not await table_rows(api.svc, "transfers")
    assert (await api.account(payer["id"]))["available"]["amount"] == "100.00"


async def test_only_the_parties_fsps_act_on_a_transfer(api, parties):
    payer, payee = parties
    body = await transfer_body(api, "t-9", payer, payee, "1.00")
    not_payer = await _prepare(api, body, fsp="bank-b")
    assert not_payer.status_code == 403 and not_payer.json()["rule_id"] == "SG-SEC-1"
    await _prepare(api, body)
    by_payer = await _fulfil(api, "t-9", fulfilment_for(api, payee, "t-9"), fsp="bank-a")
    assert by_payer.status_code == 403 and by_payer.json()["rule_id"] == "SG-SEC-1"
    assert (await api.fsp("momo", "GET", "/v1/transfers/t-9")).status_code == 404


async def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(api, parties):
    payer, payee = parties
    body = await transfer_body(api, "t-10", payer, payee, "2.00")
    key = {"Idempotency-Key": "prepare-t-10"}
    first = await api.fsp("bank-a", "POST", "/v1/transfers", json=body, headers=key)
    again = await api.fsp("bank-a", "POST", "/v1/transfers", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    other = await api.fsp("bank-a", "POST", "/v1/transfers", json={**body, "transfer_id": "t-11"}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "common.idempotency_key_reused"
    assert (await api.account(payer["id"]))["available"]["amount"] == "98.00"


async def test_an_expiration_without_a_utc_offset_is_refused_and_reserves_nothing(api, parties):
    payer, payee = parties
    body = await transfer_body(api, "t-naive", payer, payee, "1.00")
    response = await _prepare(api, {**body, "expiration": "2026-12-01T12:00:00"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"] == ["body", "expiration"]
    assert (await api.account(payer["id"]))["available"]["amount"] == "100.00"

"""The double-entry ledger: balanced postings, limits held by the database, decimal strings, the zero-sum proof."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.payments.payments_helpers import AUDITOR, CURRENCY, ISSUANCE, SUBJECT, table_rows


async def test_the_simulated_network_is_there_at_start(api):
    response = await api.call("GET", "/v1/ledger/participants", roles=("fsp",))
    assert response.status_code == 200
    kinds = {p["id"]: p["kind"] for p in response.json()}
    assert kinds == {"central-bank": "settlement_bank", "bank-a": "bank", "bank-b": "bank", "momo": "mobile_money"}
    issuance = await api.account(ISSUANCE)
    assert issuance["debit_limit"] is None  # the only account that may go below zero without bound
    assert (await api.account("bank-a:settlement:USD"))["debit_limit"] == {"amount": "0.00", "currency": "USD"}


async def test_a_posting_debits_what_it_credits_and_the_books_sum_to_zero(api):
    account = await api.open_account("bank-a")
    posting = await api.fund(account["id"], "125.50")
    assert posting["amount"] == "125.50" and posting["state"] == "posted"
    assert await api.balance(account["id"]) == "125.50"
    assert await api.balance(ISSUANCE) == "-125.50"
    check = await api.check()
    assert check["balanced"] is True
    [usd] = check["currencies"]
    assert usd["balance_sum"] == "0.00" and usd["journal_mismatches"] == 0


async def test_posting_the_same_id_again_moves_nothing_and_other_values_conflict(api):
    account = await api.open_account("bank-b")
    body = {"id": "fund-once", "debit_account_id": ISSUANCE, "credit_account_id": account["id"],
            "amount": "10.00", "currency": CURRENCY}  # fmt: skip
    first = await api.operator("POST", "/v1/ledger/postings", json=body)
    again = await api.operator("POST", "/v1/ledger/postings", json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await api.balance(account["id"]) == "10.00"
    other = await api.operator("POST", "/v1/ledger/postings", json={**body, "amount": "11.00"})
    assert other.status_code == 409 and other.json()["code"] == "payments.posting_conflict"
    assert await api.balance(account["id"]) == "10.00"


async def test_a_debit_beyond_the_limit_is_refused_and_changes_nothing(api):
    payer = await api.open_account("bank-a", limit="5.00")
    payee = await api.open_account("bank-b")
    await api.fund(payer["id"], "20.00")
    body = {"id": "too-much", "debit_account_id": payer["id"], "credit_account_id": payee["id"],
            "amount": "25.01", "currency": CURRENCY}  # fmt: skip
    refused = await api.operator("POST", "/v1/ledger/postings", json=body)
    assert refused.status_code == 409 and refused.json()["code"] == "payments.insufficient_funds"
    assert await api.balance(payer["id"]) == "20.00"
    assert await api.balance(payee["id"]) == "0.00"
    assert not [row for row in await table_rows(api.svc, "postings") if row["id"] == "too-much"]
    allowed = await api.operator("POST", "/v1/ledger/postings", json={**body, "id": "overdraft", "amount": "25.00"})
    assert allowed.status_code == 201
    assert await api.balance(payer["id"]) == "-5.00"
    assert (await api.account(payer["id"]))["available"]["amount"] == "0.00"


async def test_a_closed_account_takes_no_credit(api, payments):
    account = await api.open_account("momo", kind="wallet", address="+000555777")
    async with payments.app.state.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE accounts SET status = 'closed' WHERE id = :id"), {"id": account["id"]})
    body = {"id": "to-closed", "debit_account_id": ISSUANCE, "credit_account_id": account["id"],
            "amount": "1.00", "currency": CURRENCY}  # fmt: skip
    refused = await api.operator("POST", "/v1/ledger/postings", json=body)
    assert refused.status_code == 409 and refused.json()["code"] == "payments.account_closed", refused.text
    assert (await api.check())["balanced"] is True


@pytest.mark.parametrize(
    ("amount", "currency"), [("0.001", "USD"), ("5.5", "JPY"), ("0", "USD"), ("-1", "USD"), ("1e3", "USD")]
)
async def test_amounts_are_decimal_strings_with_no_more_decimals_than_the_currency(api, amount, currency):
    body = {"id": "bad-amount", "debit_account_id": ISSUANCE, "credit_account_id": "bank-a:settlement:USD",
            "amount": amount, "currency": currency}  # fmt: skip
    response = await api.operator("POST", "/v1/ledger/postings", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unknown_currency_code_and_a_currency_mismatch_are_refused(api):
    kes = await api.open_account("bank-a", currency="KES")
    body = {"id": "mix", "debit_account_id": ISSUANCE, "credit_account_id": kes["id"], "amount": "1.00",
            "currency": CURRENCY}  # fmt: skip
    mismatch = await api.operator("POST", "/v1/ledger/postings", json=body)
    assert mismatch.status_code == 422 and mismatch.json()["code"] == "payments.currency_mismatch"
    unknown = await api.operator("POST", "/v1/ledger/postings", json={**body, "currency": "ABC"})
    assert unknown.status_code == 422


async def test_the_database_itself_refuses_a_balance_below_the_limit(payments, api):
    """The CHECK constraint holds even against a statement that skips the repository's conditional UPDATE."""
    account = await api.open_account("bank-a")
    with pytest.raises(IntegrityError):
        async with payments.app.state.sessionmaker() as session, session.begin():
            await session.execute(text("UPDATE accounts SET balance = -1 WHERE id = :id"), {"id": account["id"]})


async def test_the_check_finds_a_balance_the_journal_does_not_explain(payments, api):
    account = await api.open_account("bank-a")
    await api.fund(account["id"], "3.00")
    async with payments.app.state.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE accounts SET balance = balance + 100 WHERE id = :id"), {"id": account["id"]})
    check = await api.check()
    assert check["balanced"] is False
    assert check["currencies"][0]["journal_mismatches"] == 1
    assert check["currencies"][0]["balance_sum"] == "1.00"


async def test_who_sees_which_account(api):
    mine = await api.open_account("bank-a", owner="sub-amara")
    assert (
        await api.call("GET", f"/v1/ledger/accounts/{mine['id']}", roles=SUBJECT, subject_ref="sub-amara")
    ).status_code == 200
    other = await api.call("GET", f"/v1/ledger/accounts/{mine['id']}", roles=SUBJECT, subject_ref="sub-kofi")
    assert other.status_code == 404
    assert (await api.fsp("bank-a", "GET", f"/v1/ledger/accounts/{mine['id']}")).status_code == 200
    assert (await api.fsp("bank-b", "GET", f"/v1/ledger/accounts/{mine['id']}")).status_code == 404
    denied = await api.call("POST", "/v1/ledger/postings", roles=AUDITOR, json={})
    assert denied.status_code == 403 and denied.json()["rule_id"] == "SG-SEC-1"
    body = {"participant_id": "bank-a", "kind": "customer", "address": "9", "currency": "USD"}
    foreign = await api.fsp("bank-b", "POST", "/v1/ledger/accounts", json=body)
    assert foreign.status_code == 403 and foreign.json()["rule_id"] == "SG-SEC-1"


async def test_concurrent_debits_never_take_an_account_below_its_limit(api):
    """500 debits of 1.00 race for an account holding 100.00 with a 20.00 limit: exactly 120 succeed.

    All 500 are started together; 64 at a time are in flight, so that requests queued behind the in-process app's
    30 database connections do not wait out the pool's 30-second timeout on a loaded shared machine.
    """
    in_flight = asyncio.Semaphore(64)
    payer = await api.open_account("bank-a", limit="20.00")
    payee = await api.open_account("bank-b")
    await api.fund(payer["id"], "100.00")

    async def debit(n: int) -> int:
        body = {"id": f"race-{n}", "debit_account_id": payer["id"], "credit_account_id": payee["id"],
                "amount": "1.00", "currency": CURRENCY}  # fmt: skip
        async with in_flight:
            return (await api.operator("POST", "/v1/ledger/postings", json=body)).status_code

    statuses = await asyncio.gather(*(debit(n) for n in range(500)))
    assert statuses.count(201) == 120
    assert statuses.count(409) == 380
    assert await api.balance(payer["id"]) == "-20.00"
    assert await api.balance(payee["id"]) == "120.00"
    assert (await api.check())["balanced"] is True

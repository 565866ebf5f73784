"""Many transfers at once, each sent twice as a client retrying would: every one is paid exactly once.

All 1,000 transfers start together; at most 32 are in flight at a time (64 requests, since each is sent twice),
so that requests queued behind the 30 database connections of the in-process app do not wait out the pool's
30-second timeout on a shared two-core machine. The database sees 30 concurrent transactions throughout.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.payments.payments_helpers import fulfilment_for, table_rows, transfer_body


async def test_concurrent_transfers_with_retries_are_each_paid_exactly_once(api, db_backend):
    count = 1000 if db_backend == "postgresql" else 200
    payers = [await api.open_account("bank-a", address=f"p{n}") for n in range(20)]
    payees = [await api.open_account("bank-b", address=f"r{n}") for n in range(20)]
    for payer in payers:
        await api.fund(payer["id"], "1000.00")

    in_flight = asyncio.Semaphore(32)

    async def one(n: int) -> tuple[list[int], list[str]]:
        async with in_flight:
            return await transfer_twice(n)

    async def send(fsp: str, path: str, body: dict, key: str) -> httpx.Response:  # type: ignore[type-arg]
        """As a client does: the same Idempotency-Key on every try, again after 409 "in progress" and after 503 (the
        service busy: on a loaded machine SQLite's one connection can stay taken past the pool's timeout)."""
        while True:
            response = await api.fsp(fsp, "POST", path, json=body, headers={"Idempotency-Key": key})
            busy = response.status_code == 503
            in_progress = response.status_code == 409 and response.json()["code"] == "common.idempotency_in_progress"
            if not (busy or in_progress):
                return response
            await asyncio.sleep(0.01)

    async def transfer_twice(n: int) -> tuple[list[int], list[str]]:
        payer, payee = payers[n % 20], payees[(n * 7) % 20]
        body = await transfer_body(api, f"c-{n}", payer, payee, "1.25")
        prepared = await asyncio.gather(*(send("bank-a", "/v1/transfers", body, f"prepare-{n}") for _ in range(2)))
        fulfilment = fulfilment_for(api, payee, f"c-{n}")
        fulfilled = await asyncio.gather(
            *(send("bank-b", f"/v1/transfers/c-{n}/fulfil", fulfilment, f"fulfil-{n}") for _ in range(2))
        )
        return [r.status_code for r in prepared], [r.json().get("state", r.text) for r in fulfilled]

    results = await asyncio.gather(*(one(n) for n in range(count)))
    # The retry gets the first answer back, byte for byte (201 created), not a second transfer.
    outcomes = Counter(tuple(prepared) for prepared, _ in results)
    assert outcomes == {(201, 201): count}, outcomes
    assert all(states == ["committed", "committed"] for _, states in results)

    postings = [row for row in await table_rows(api.svc, "postings") if row["code"] == "transfer"]
    assert len(postings) == count and {row["state"] for row in postings} == {"posted"}
    paid = Counter()
    for row in postings:
        paid[row["credit_account_id"]] += row["amount"]
    assert sum(paid.values()) == count * 125
    for payee in payees:
        assert await api.balance(payee["id"]) == f"{paid[payee['id']] // 100}.{paid[payee['id']] % 100:02d}"
    check = await api.check()
    assert check["balanced"] is True and check["currencies"][0]["pending_debits"] == "0.00"

"""Settlement windows: open → closed (net positions from the ledger) → settled through the settlement bank."""

from __future__ import annotations

from tests.payments.payments_helpers import fulfilment_for, transfer_body


async def _pay(api, n: str, payer, payee, amount: str) -> None:  # type: ignore[no-untyped-def]
    await api.fsp(
        payer["participant_id"], "POST", "/v1/transfers", json=await transfer_body(api, n, payer, payee, amount)
    )
    done = await api.fsp(
        payee["participant_id"], "POST", f"/v1/transfers/{n}/fulfil", json=fulfilment_for(api, payee, n)
    )
    assert done.json()["state"] == "committed", done.text


async def test_a_window_nets_the_fsps_positions_and_settles_them_through_the_settlement_bank(api):
    alice = await api.open_account("bank-a", address="a1")
    bob = await api.open_account("bank-b", address="b1")
    wallet = await api.open_account("momo", kind="wallet", address="+000555900")
    for account in (alice, bob):
        await api.fund(account["id"], "100.00")
    await api.fund("bank-a:settlement:USD", "50.00")
    await api.fund("bank-b:settlement:USD", "50.00")
    await _pay(api, "w-1", alice, bob, "30.00")  # bank-a owes bank-b 30
    await _pay(api, "w-2", bob, alice, "10.00")  # bank-b owes bank-a 10
    await _pay(api, "w-3", bob, wallet, "5.00")  # bank-b owes momo 5

    closed = await api.operator("POST", "/v1/settlement/windows/close")
    assert closed.status_code == 200, closed.text
    window = closed.json()
    assert window["state"] == "closed"
    assert {p["participant_id"]: p["net"]["amount"] for p in window["positions"]} == {
        "bank-a": "-20.00", "bank-b": "15.00", "momo": "5.00",
    }  # fmt: skip
    settled = await api.operator("POST", f"/v1/settlement/windows/{window['window_id']}/settle")
    assert settled.status_code == 200 and settled.json()["state"] == "settled"
    assert await api.balance("bank-a:settlement:USD") == "30.00"
    assert await api.balance("bank-b:settlement:USD") == "65.00"
    assert await api.balance("momo:settlement:USD") == "5.00"
    assert await api.balance("central-bank:clearing:USD") == "0.00"
    again = await api.operator("POST", f"/v1/settlement/windows/{window['window_id']}/settle")
    assert again.json()["state"] == "settled" and await api.balance("bank-b:settlement:USD") == "65.00"
    records = await api.call("GET", f"/v1/payments/{window['window_id']}/records", roles=("auditor",))
    assert [s["step"] for s in records.json()["steps"]] == ["settlement"]
    # The next window starts empty: transfers are settled once.
    assert (await api.operator("POST", "/v1/settlement/windows/close")).json()["positions"] == []
    assert (await api.check())["balanced"] is True


async def test_a_debtor_without_reserve_refuses_settlement_and_the_window_stays_closed(api):
    alice = await api.open_account("bank-a", address="a2")
    bob = await api.open_account("bank-b", address="b2")
    await api.fund(alice["id"], "10.00")
    await _pay(api, "w-4", alice, bob, "10.00")
    window = (await api.operator("POST", "/v1/settlement/windows/close")).json()
    refused = await api.operator("POST", f"/v1/settlement/windows/{window['window_id']}/settle")
    assert refused.status_code == 409 and refused.json()["code"] == "payments.insufficient_funds"
    assert (await api.call("GET", f"/v1/settlement/windows/{window['window_id']}", roles=("auditor",))).json()[
        "state"
    ] == "closed"
    await api.fund("bank-a:settlement:USD", "10.00")
    assert (await api.operator("POST", f"/v1/settlement/windows/{window['window_id']}/settle")).json()[
        "state"
    ] == "settled"

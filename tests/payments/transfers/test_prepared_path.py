"""The hot path of prepare and fulfil (services/payments/transfers/prepared.py, PostgreSQL) against the general path:
the same answers byte for byte, the same signed records, events and postings; limits held under concurrency; and
whatever it does not cover left to the general path, which explains."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from services.common import jws
from services.payments.records.schemas import RECORD_TYPE
from services.payments.transfers import prepared as prepared_path
from tests.payments.payments_helpers import events, fulfilment_for, table_rows, transfer_body


def _taken(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the steps the hot path answered (its None hands a step to the general path)."""
    taken: Counter[str] = Counter()
    for name in ("prepare", "fulfil"):
        original = getattr(prepared_path, name)

        async def spy(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            answer = await _original(*args, **kwargs)
            taken[_name] += answer is not None
            return answer

        monkeypatch.setattr(prepared_path, name, spy)
    return taken


async def _transfer(api, transfer_id: str, payer, payee) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    body = await transfer_body(api, transfer_id, payer, payee, "2.50")
    prepared = await api.fsp("bank-a", "POST", "/v1/transfers", json=body, headers={"Idempotency-Key": transfer_id})
    fulfilment = fulfilment_for(api, payee, transfer_id)
    path = f"/v1/transfers/{transfer_id}/fulfil"
    fulfilled = await api.fsp("bank-b", "POST", path, json=fulfilment, headers={"Idempotency-Key": f"f-{transfer_id}"})
    assert (prepared.status_code, fulfilled.status_code) == (201, 200), (prepared.text, fulfilled.text)
    return prepared.content, fulfilled.content


# What differs between two transfers that are otherwise the same: ids made at random, and the condition and
# fulfilment (the payee FSP's, derived from the transfer id).
_DIFFERENT = {"id", "record_id", "claim_id", "idempotency_key", "fingerprint", "request_hash", "condition",
              "fulfilment", "jws", "body", "published_at", "attempts"}  # fmt: skip


def _same(value: Any, transfer_id: str) -> Any:
    """`value` with what differs between two transfers taken out and the transfer's id replaced by "T"."""
    if isinstance(value, dict):
        return {k: _same(v, transfer_id) for k, v in value.items() if k not in _DIFFERENT}
    if isinstance(value, list):
        return [_same(v, transfer_id) for v in value]
    return value.replace(transfer_id, "T") if isinstance(value, str) else value


async def _rows_of(svc: Any, table: str, transfer_id: str) -> list[Any]:
    rows = await table_rows(svc, table) if table != "outbox" else await events(svc)
    return [_same(row, transfer_id) for row in rows if transfer_id in repr(row)]


async def test_the_hot_path_answers_signs_and_records_what_the_general_path_does(
    api, payments, db_backend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    payer = await api.open_account("bank-a", owner="sub-payer", address="5001")
    payee = await api.open_account("bank-b", owner="sub-payee", address="6002")
    await api.fund(payer["id"], "10.00")
    taken = _taken(monkeypatch)
    hot = await _transfer(api, "t-hot", payer, payee)
    assert +taken == (Counter(prepare=1, fulfil=1) if db_backend == "postgresql" else Counter())
    monkeypatch.setattr(prepared_path, "_applies", lambda rt, caller: False)
    general = await _transfer(api, "t-general", payer, payee)
    assert [_same(json.loads(answer), "t-hot") for answer in hot] == [
        _same(json.loads(answer), "t-general") for answer in general
    ]
    for table, count in (("transfers", 1), ("postings", 1), ("signed_records", 3), ("outbox", 2),
                         ("idempotency_records", 2)):  # fmt: skip
        assert await _rows_of(payments, table, "t-hot") == await _rows_of(payments, table, "t-general")
        assert len(await _rows_of(payments, table, "t-hot")) == count, table
    stored = {row["idempotency_key"]: row["body"] for row in await table_rows(payments, "idempotency_records")}
    assert (stored["t-hot"], stored["f-t-hot"]) == hot and (stored["t-general"], stored["f-t-general"]) == general
    keys = payments.app.state.signing_key.jwks()
    for row in await table_rows(payments, "signed_records"):
        assert jws.verify_record(row["jws"], keys, typ=RECORD_TYPE).claims == row["record"]
    assert await api.balance(payee["id"]) == "5.00"
    assert (await api.check())["balanced"] is True


async def test_concurrent_prepares_never_take_the_payer_below_its_limit(api, db_backend) -> None:  # type: ignore[no-untyped-def]
    payer = await api.open_account("bank-a", address="5003")
    payee = await api.open_account("bank-b", address="6004")
    await api.fund(payer["id"], "20.00")

    async def prepare(n: int) -> tuple[int, str]:
        body = await transfer_body(api, f"c-{n}", payer, payee, "1.00")
        response = await api.fsp("bank-a", "POST", "/v1/transfers", json=body, headers={"Idempotency-Key": f"k-{n}"})
        return response.status_code, response.json().get("code", "")

    outcomes = Counter(await asyncio.gather(*(prepare(n) for n in range(50))))
    assert outcomes == {(201, ""): 20, (409, "payments.insufficient_funds"): 30}
    account = await api.account(payer["id"])
    assert (account["available"]["amount"], account["pending_debits"]["amount"]) == ("0.00", "20.00")
    assert len(await table_rows(api.svc, "transfers")) == 20
    assert (await api.check())["balanced"] is True


async def test_what_the_hot_path_does_not_cover_the_general_path_answers(api, db_backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    payer = await api.open_account("bank-a", address="5005")
    payee = await api.open_account("bank-b", address="6006")
    await api.fund(payer["id"], "5.00")
    taken = _taken(monkeypatch)
    body = await transfer_body(api, "t-1", payer, payee, "1.00")
    assert (await api.fsp("bank-a", "POST", "/v1/transfers", json=body)).status_code == 201
    replay = await api.fsp("bank-a", "POST", "/v1/transfers", json=body)  # the same id again: the stored transfer
    assert replay.status_code == 200 and replay.json()["state"] == "reserved"
    wrong = {"fulfilment": fulfilment_for(api, payee, "t-other")["fulfilment"]}
    refused = await api.fsp("bank-b", "POST", "/v1/transfers/t-1/fulfil", json=wrong)
    assert refused.status_code == 422 and refused.json()["code"] == "payments.invalid_fulfilment"
    by_payer = await api.fsp("bank-a", "POST", "/v1/transfers/t-1/fulfil", json=fulfilment_for(api, payee, "t-1"))
    assert by_payer.status_code == 403 and by_payer.json()["rule_id"] == "SG-SEC-1"
    assert +taken == (Counter(prepare=1) if db_backend == "postgresql" else Counter())
    assert (await api.account(payer["id"]))["available"]["amount"] == "4.00"


async def test_a_transfer_id_that_another_posting_holds_is_a_conflict_not_an_error(api) -> None:  # type: ignore[no-untyped-def]
    payer = await api.open_account("bank-a", address="5007")
    payee = await api.open_account("bank-b", address="6008")
    funding = await api.fund(payer["id"], "5.00")
    body = await transfer_body(api, funding["id"], payer, payee, "1.00")
    refused = await api.fsp("bank-a", "POST", "/v1/transfers", json=body, headers={"Idempotency-Key": "k-1"})
    assert refused.status_code == 409 and refused.json()["code"] == "payments.posting_conflict"
    assert not await table_rows(api.svc, "transfers")
    assert (await api.account(payer["id"]))["available"]["amount"] == "5.00"


async def test_a_key_taken_undoes_the_hot_paths_work_and_the_stored_answer_replays(
    api, db_backend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The hot path stores the key's answer in the statement that does the work: a key already taken (here by
    another body) fails that statement, so nothing of the second transfer is written; the first answer replays."""
    payer = await api.open_account("bank-a", address="5009")
    payee = await api.open_account("bank-b", address="6010")
    await api.fund(payer["id"], "5.00")
    taken = _taken(monkeypatch)
    first = await api.fsp("bank-a", "POST", "/v1/transfers", json=await transfer_body(api, "t-1", payer, payee, "1.00"),
                          headers={"Idempotency-Key": "k"})  # fmt: skip
    assert first.status_code == 201
    other = await transfer_body(api, "t-2", payer, payee, "2.00")
    reused = await api.fsp("bank-a", "POST", "/v1/transfers", json=other, headers={"Idempotency-Key": "k"})
    assert reused.status_code == 422 and reused.json()["code"] == "common.idempotency_key_reused"
    again = await api.fsp("bank-a", "POST", "/v1/transfers", json=await transfer_body(api, "t-1", payer, payee, "1.00"),
                          headers={"Idempotency-Key": "k"})  # fmt: skip
    assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (201, first.content, "true")
    path = "/v1/transfers/t-1/fulfil"
    fulfilment = fulfilment_for(api, payee, "t-1")
    fulfilled = await api.fsp("bank-b", "POST", path, json=fulfilment, headers={"Idempotency-Key": "f"})
    replayed = await api.fsp("bank-b", "POST", path, json=fulfilment, headers={"Idempotency-Key": "f"})
    assert fulfilled.status_code == 200 and (replayed.content, replayed.headers["idempotent-replayed"]) == (
        fulfilled.content, "true",
    )  # fmt: skip
    by_another_key = await api.fsp("bank-b", "POST", path, json=fulfilment, headers={"Idempotency-Key": "f2"})
    assert by_another_key.status_code == 200 and by_another_key.json()["state"] == "committed"
    assert +taken == (Counter(prepare=1, fulfil=1) if db_backend == "postgresql" else Counter())
    assert [row["id"] for row in await table_rows(api.svc, "transfers")] == ["t-1"]
    assert len([row for row in await table_rows(api.svc, "signed_records") if row["transaction_id"] == "t-2"]) == 0
    assert len(await events(api.svc)) == 2  # reserved and committed, once each
    assert await api.balance(payer["id"]) == "4.00" and await api.balance(payee["id"]) == "1.00"
    assert (await api.account(payer["id"]))["pending_debits"]["amount"] == "0.00"
    assert (await api.check())["balanced"] is True

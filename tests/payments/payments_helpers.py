"""Payments test helpers: an HTTP client acting as the gateway for each kind of caller, and raw database reads."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select

OPERATOR = ("payments_operator",)
FSP = ("fsp",)
PROGRAMME = ("programme",)
SUBJECT = ("subject",)
AUDITOR = ("auditor",)
CURRENCY = "USD"
ISSUANCE = "central-bank:issuance:USD"

_serial = itertools.count(1)


class PaymentsApi:
    """Talks to the payments app as the gateway would, minting a fresh assertion per request."""

    def __init__(self, svc: Any, gateway: Any) -> None:
        self.svc = svc
        self.gateway = gateway

    async def call(
        self,
        method: str,
        path: str,
        *,
        roles: Sequence[str],
        subject_ref: str | None = None,
        client_id: str = "test-client",
        json: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        assertion = self.gateway.headers("payments", client_id=client_id, roles=tuple(roles), subject_ref=subject_ref)
        return await self.svc.client.request(
            method, path, json=json, content=content, headers={**assertion, **(headers or {})}
        )

    async def operator(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call(method, path, roles=OPERATOR, client_id="scheme-operator", **kwargs)

    async def fsp(self, fsp_id: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call(method, path, roles=FSP, client_id=f"sim-{fsp_id}", **kwargs)

    async def open_account(
        self, fsp_id: str = "bank-a", *, owner: str | None = None, kind: str = "customer", limit: str = "0",
        address: str | None = None, currency: str = CURRENCY,
    ) -> dict[str, Any]:  # fmt: skip
        body = {"participant_id": fsp_id, "kind": kind, "address": address or f"{next(_serial):06d}",
                "currency": currency, "owner_ref": owner, "debit_limit": limit}  # fmt: skip
        response = await self.operator("POST", "/v1/ledger/accounts", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def fund(self, account_id: str, amount: str, *, source: str = ISSUANCE) -> dict[str, Any]:
        body = {"id": f"fund-{next(_serial)}", "debit_account_id": source, "credit_account_id": account_id,
                "amount": amount, "currency": CURRENCY, "code": "funding"}  # fmt: skip
        response = await self.operator("POST", "/v1/ledger/postings", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def account(self, account_id: str) -> dict[str, Any]:
        response = await self.operator("GET", f"/v1/ledger/accounts/{account_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def balance(self, account_id: str) -> str:
        return str((await self.account(account_id))["balance"]["amount"])

    async def check(self) -> dict[str, Any]:
        response = await self.call("GET", "/v1/ledger/check", roles=AUDITOR)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


async def table_rows(svc: Any, table_name: str) -> list[dict[str, Any]]:
    """Every row of one of the service's tables, read raw."""
    from services.payments.models import metadata

    table = metadata.tables[table_name]
    async with svc.app.state.sessionmaker() as session:
        result = await session.execute(select(table))
        return [dict(row._mapping) for row in result]


async def events(svc: Any, subject: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows (published or not) in creation order, optionally of one subject."""
    rows = sorted(await table_rows(svc, "outbox"), key=lambda row: row["id"])
    return [row for row in rows if subject is None or row["subject"] == subject]


def payee_fsps(svc: Any) -> Any:
    """The SIMULATED payee FSPs of the app: a test playing the payee FSP gets its fulfilments from them."""
    return svc.app.state.payments.payee_fsps


async def transfer_body(api: PaymentsApi, transfer_id: str, payer: dict[str, Any], payee: dict[str, Any],
                        amount: str, *, quote_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A prepare body whose condition the simulated payee FSP can fulfil (via a quote, or straight from the FSP)."""
    fsps = payee_fsps(api.svc)
    body: dict[str, Any] = {
        "transfer_id": transfer_id,
        "payer": {"fsp_id": payer["participant_id"], "address": payer["address"]},
        "payee": {"fsp_id": payee["participant_id"], "address": payee["address"]},
        "amount": {"amount": amount, "currency": CURRENCY},
        "condition": fsps.condition(payee["participant_id"], quote_id or transfer_id),
    }
    if quote_id:
        body["quote_id"] = quote_id
    return body


def fulfilment_for(api: PaymentsApi, payee: dict[str, Any], key: str) -> dict[str, str]:
    return {"fulfilment": payee_fsps(api.svc).fulfilment(payee["participant_id"], key)}


async def pay(api: PaymentsApi, transfer_id: str, payer: dict[str, Any], payee: dict[str, Any], amount: str) -> None:
    """A transfer from payer to payee, prepared by the payer's FSP and fulfilled by the payee's: committed."""
    body = await transfer_body(api, transfer_id, payer, payee, amount)
    prepared = await api.fsp(payer["participant_id"], "POST", "/v1/transfers", json=body)
    assert prepared.status_code == 201, prepared.text
    fulfil = fulfilment_for(api, payee, transfer_id)
    fulfilled = await api.fsp(payee["participant_id"], "POST", f"/v1/transfers/{transfer_id}/fulfil", json=fulfil)
    assert fulfilled.status_code == 200, fulfilled.text


async def link_amara_and_a_token(api: PaymentsApi) -> None:
    """sub-amara's account at bank-a and a token's wallet, linked (unless this database already holds them)."""
    accounts = ({"participant_id": "bank-a", "kind": "customer", "address": "1001", "owner_ref": "sub-amara"},
                {"participant_id": "momo", "kind": "wallet", "address": "+000555901"})  # fmt: skip
    links = ({"fsp_id": "bank-a", "address": "1001", "person_ref": "sub-amara"},
             {"fsp_id": "momo", "address": "+000555901", "person_ref": "ptk-9", "ref_type": "token"})  # fmt: skip
    for account, link in zip(accounts, links, strict=True):
        opened = await api.operator("POST", "/v1/ledger/accounts", json={**account, "currency": "USD"})
        created = await api.fsp(link["fsp_id"], "POST", "/v1/mapper/links", json=link)
        assert (opened.status_code, created.status_code) in ((201, 201), (409, 409)), created.text

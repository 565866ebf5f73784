"""Bulk test helpers: a programme's calls, beneficiaries with linked accounts, batch bodies."""

from __future__ import annotations

from tests.payments.payments_helpers import PROGRAMME

PROGRAMME_CLIENT = "prog-social"


async def as_programme(api, method: str, path: str, client_id: str = PROGRAMME_CLIENT, **kwargs):  # type: ignore[no-untyped-def]
    return await api.call(method, path, roles=PROGRAMME, client_id=client_id, **kwargs)


async def beneficiary(api, sub: str, fsp: str = "bank-a", **account):  # type: ignore[no-untyped-def]
    opened = await api.open_account(fsp, owner=sub, **account)
    linked = await api.fsp(
        fsp, "POST", "/v1/mapper/links", json={"fsp_id": fsp, "address": opened["address"], "person_ref": sub}
    )
    assert linked.status_code == 201, linked.text
    return opened


def batch(message_id: str, items: list[tuple[str, str]], **extra):  # type: ignore[no-untyped-def]
    return {
        "message_id": message_id,
        "debtor": {"fsp_id": "central-bank", "address": "prog-social"},
        "currency": "USD",
        "items": [{"person_ref": sub, "amount": amount} for sub, amount in items],
        **extra,
    }

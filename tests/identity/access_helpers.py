"""Helpers for the authentication, KYC, offline credential and OIDC tests: enrolled people with a VID, the OTP
read from the messaging simulator, and calls with any gateway context (purpose, consent, channel, assisted_by)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.identity.identity_helpers import IdentityApi, another_person

TRAINER = ("trainer",)
RELYING_PARTY = ("relying_party",)
OPERATOR = ("assisted_operator",)
TEMPLATE = "synthetic-template:left-thumb:7f3a"
_OTP_IN_BODY = re.compile(r"\b([0-9]{6})\b")


@dataclass
class Enrolled:
    person_id: str
    sub: str
    uin: str
    vid: str


async def call(
    api: IdentityApi,
    method: str,
    path: str,
    *,
    roles: Sequence[str],
    client_id: str = "test-client",
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> httpx.Response:
    """A request as the gateway would send it, with a fresh assertion carrying `context` (purpose, consent_id...)."""
    assertion = api.gateway.headers("identity", client_id=client_id, roles=tuple(roles), **context)
    response = await api.svc.client.request(
        method, path, json=json, params=params, headers={**assertion, **(headers or {})}
    )
    api.seen.append((tuple(roles), response))
    return response


async def enrolled(api: IdentityApi, **overrides: Any) -> Enrolled:
    """A new person with a UIN and one active VID."""
    body = another_person()
    body.update(overrides)
    result = await api.enrolled(body)
    response = await api.as_subject(result["sub"], "POST", "/v1/me/vids", json={})
    assert response.status_code == 201, response.text
    return Enrolled(result["person_id"], result["sub"], result["uin"], response.json()["vid"])


async def messages(api: IdentityApi, sub: str, kind: str | None = None) -> list[dict[str, Any]]:
    params = {"recipient_sub": sub, "limit": 100, **({"kind": kind} if kind else {})}
    response = await call(api, "GET", "/v1/simulated-messages", roles=TRAINER, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def latest_otp(api: IdentityApi, sub: str) -> str:
    """The code in the newest one-time-code message the simulator holds for `sub`."""
    items = await messages(api, sub, kind="otp")
    assert items, "no OTP message was sent"
    match = _OTP_IN_BODY.search(items[0]["body"])
    assert match, items[0]["body"]
    return match.group(1)


async def request_otp(
    api: IdentityApi, person: Enrolled, *, client_id: str = "rp-bank", roles: Sequence[str] = RELYING_PARTY
) -> str:
    """Have `client_id` send an OTP to the person (named by VID) and return the code they received."""
    body = {"individual": {"type": "vid", "value": person.vid}}
    response = await call(api, "POST", "/v1/authn/otp", roles=roles, client_id=client_id, json=body)
    assert response.status_code == 202, response.text
    return await latest_otp(api, person.sub)


async def authn(
    api: IdentityApi, person: Enrolled, factor: dict[str, Any], *, client_id: str = "rp-bank", **kwargs: Any
) -> httpx.Response:
    """A relying party authenticates the person by VID with `factor`."""
    kwargs.setdefault("roles", RELYING_PARTY)
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": factor}
    return await call(api, "POST", "/v1/authn", client_id=client_id, json=body, **kwargs)

"""Identity test helpers: an HTTP client acting as the gateway for any role, synthetic people, raw DB reads."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select

from tests.kit.callers import caller_headers

REGISTRAR = ("registrar",)
ADJUDICATOR = ("adjudicator",)
SUBJECT = ("subject",)
GATEWAY = ("gateway_internal",)

_serial = itertools.count(1)


def synthetic_person(**overrides: Any) -> dict[str, Any]:
    """An enrolment body for a made-up person; every call without overrides is the same person."""
    body: dict[str, Any] = {
        "given_name": "Amara",
        "family_name": "Okafor",
        "date_of_birth": "1984-07-23",
        "sex": "female",
        "residency_status": "citizen",
        "nationality": "NGA",
        "address": "12 Palm Street, Sandbox City",
        "phone": "+000 555 0101",
        "email": "amara.okafor@example.org",
        "preferred_language": "en",
        "consents": {"biometric": False, "notices": True},
    }
    body.update(overrides)
    return body


def another_person(**overrides: Any) -> dict[str, Any]:
    """A different made-up person each call."""
    n = next(_serial)
    return synthetic_person(
        given_name=f"Kofi{n}",
        family_name="Mensah",
        date_of_birth=f"19{50 + n % 40}-0{1 + n % 9}-1{n % 10}",
        phone=f"+000 555 {1000 + n}",
        email=f"kofi{n}@example.org",
        **overrides,
    )


class IdentityApi:
    """Talks to the identity app as the gateway would, minting a fresh assertion per request, and keeps every
    response (with the caller's roles) so tests can scan what each role was shown."""

    def __init__(self, svc: Any, gateway: Any) -> None:
        self.svc = svc
        self.gateway = gateway
        self.seen: list[tuple[tuple[str, ...], httpx.Response]] = []

    async def call(
        self,
        method: str,
        path: str,
        *,
        roles: Sequence[str],
        subject_ref: str | None = None,
        client_id: str = "test-client",
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        assertion = self.assertion_headers(client_id=client_id, roles=tuple(roles), subject_ref=subject_ref)
        response = await self.svc.client.request(
            method, path, json=json, params=params, headers={**assertion, **(headers or {})}
        )
        self.seen.append((tuple(roles), response))
        return response

    def assertion_headers(self, *, client_id: str, roles: tuple[str, ...], subject_ref: str | None) -> dict[str, str]:
        """A trusted test caller (tests/kit/callers.py): what identity does for this caller is under test here, not
        the gateway assertion, which tests/services/common/test_assertion.py proves end to end."""
        return caller_headers(client_id=client_id, roles=roles, subject_ref=subject_ref, channel="web")

    async def enrol(self, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("roles", REGISTRAR)
        return await self.call("POST", "/v1/enrolments", json=body, **kwargs)

    async def enrolled(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.enrol(body if body is not None else another_person())
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def person(self, person_id: str) -> dict[str, Any]:
        response = await self.call("GET", f"/v1/persons/{person_id}", roles=REGISTRAR)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def decide_case(self, case_id: str, decision: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("roles", ADJUDICATOR)
        return await self.call(
            "POST", f"/v1/adjudication-cases/{case_id}/decision", json={"decision": decision}, **kwargs
        )

    async def as_subject(self, sub: str, method: str, path: str, json: Any = None) -> httpx.Response:
        return await self.call(method, path, roles=SUBJECT, subject_ref=sub, json=json)

    async def pairwise_token(self, sub: str, relying_party_id: str) -> str:
        response = await self.call(
            "POST", f"/v1/subjects/{sub}/pairwise-token", roles=GATEWAY, json={"relying_party_id": relying_party_id}
        )
        assert response.status_code == 200, response.text
        return response.json()["token"]  # type: ignore[no-any-return]

    async def resolve(self, kind: str, value: str, relying_party_id: str | None = None) -> httpx.Response:
        body = {"type": kind, "value": value, "relying_party_id": relying_party_id}
        return await self.call("POST", "/v1/subjects/resolve", roles=GATEWAY, json=body)


async def table_rows(svc: Any, table_name: str) -> list[dict[str, Any]]:
    """Every row of one of the service's tables, read raw (no ORM, no decryption)."""
    from services.identity.models import metadata

    table = metadata.tables[table_name]
    async with svc.app.state.sessionmaker() as session:
        result = await session.execute(select(table))
        return [dict(row._mapping) for row in result]


async def events(svc: Any, subject: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows (published or not) in creation order, optionally of one subject."""
    rows = sorted(await table_rows(svc, "outbox"), key=lambda row: row["id"])
    return [row for row in rows if subject is None or row["subject"] == subject]

"""Exchange test helpers: an HTTP client acting as the gateway for any role and context, a consumer set up in the
directory, registry records made through the officers' endpoints, and a count of provider calls."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from services.exchange.members.builtin import (
    CASH_TRANSFER_PURPOSE,
    CIVIL_PERSON_SERVICE,
    SOCIAL_HOUSEHOLD_SERVICE,
)

REDIS_URL = os.environ.get("DPI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN = ("exchange_admin",)
RP = ("relying_party",)
POLICE = ("law_enforcement",)
OVERSIGHT = ("oversight",)
CIVIL = CIVIL_PERSON_SERVICE
SOCIAL = SOCIAL_HOUSEHOLD_SERVICE
CASH = CASH_TRANSFER_PURPOSE
BENEFIT_CHECK = "BENEFIT_ELIGIBILITY_CHECK"


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the transport to the providers and counts every request that reaches them, by method and path."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    @property
    def reads(self) -> int:
        return sum(n for key, n in self.calls.items() if key.startswith("GET ") and "/persons/" in key)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[f"{request.method} {request.url.path}"] += 1
        return await self.inner.handle_async_request(request)


class CountingReads:
    """Wraps the in-process record reads (the registries in the exchange's process) and counts, in the same
    counter, every read that reaches the provider without HTTP."""

    def __init__(self, inner: Any, counter: CountingTransport) -> None:
        self.inner = inner
        self.counter = counter

    async def get(self, path: str, credential: str, fields: Any) -> Any:
        try:
            answer = await self.inner.get(path, credential, fields)
        except Exception:
            self.counter.calls[f"GET {path}"] += 1
            raise
        if answer is not None:  # None: not one of its reads, and the client sends it over HTTP (counted there)
            self.counter.calls[f"GET {path}"] += 1
        return answer


class ExchangeApi:
    def __init__(self, svc: Any, gateway: Any) -> None:
        self.svc = svc
        self.gateway = gateway
        providers = svc.app.state.exchange.providers
        self.provider_calls = CountingTransport(providers.http._transport)
        providers.http._transport = self.provider_calls
        if providers.in_process is not None:
            providers.in_process = CountingReads(providers.in_process, self.provider_calls)

    async def call(
        self,
        method: str,
        path: str,
        *,
        roles: tuple[str, ...] = (),
        json: Any = None,
        params: Any = None,
        **context: Any,
    ) -> httpx.Response:
        context.setdefault("client_id", "test-client")
        headers = self.gateway.headers("exchange", roles=roles, **context)
        return await self.svc.client.request(method, path, json=json, params=params, headers=headers)

    async def public(self, path: str) -> httpx.Response:
        return await self.svc.client.get(path)

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    # Directory -----------------------------------------------------------------------------------------------------
    async def consumer(
        self,
        client_id: str,
        *,
        member: str = "AGENCY",
        member_class: str = "GOV",
        location: str = "SB",
        grants: dict[str, tuple[list[str], list[str]]] | None = None,
    ) -> str:
        """Register a member with one subsystem acting as `client_id`, grant it access; its subsystem id."""
        member_id = f"SBX:{member_class}:{member}"
        if (await self.public(f"/v1/members/{member_id}")).status_code == 404:
            await self.ok(
                "POST",
                "/v1/members",
                201,
                roles=ADMIN,
                json={"member_class": member_class, "code": member, "name": f"{member} (test)"},
            )
        subsystem = await self.ok(
            "POST",
            f"/v1/members/{member_id}/subsystems",
            201,
            roles=ADMIN,
            json={"code": client_id, "client_id": client_id, "processing_location": location},
        )
        for service, (fields, purposes) in (grants or {}).items():
            await self.grant(service, subsystem["id"], fields, purposes)
        return str(subsystem["id"])

    async def grant(self, service: str, subsystem: str, fields: list[str], purposes: list[str]) -> dict[str, Any]:
        body = {"client_subsystem_id": subsystem, "fields": fields, "purposes": purposes}
        return await self.ok("PUT", f"/v1/services/{service}/access-rights", roles=ADMIN, json=body)  # type: ignore[no-any-return]

    # Registries ----------------------------------------------------------------------------------------------------
    async def birth(self, sub: str, **overrides: Any) -> dict[str, Any]:
        body = {
            "subject": sub,
            "given_name": "Amara",
            "family_name": "Okafor",
            "date_of_birth": "1990-04-02",
            "sex": "female",
            "place_of_birth": "Sandbox City",
            "ethnicity": "group-a",
            **overrides,
        }
        return await self.ok("POST", "/v1/registries/civil/births", 201, roles=("civil_registrar",), json=body)  # type: ignore[no-any-return]

    async def household(self, household_id: str, members: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        body = {"income_band": "very_low", "district": "District 4", "region": "North", "members": members, **overrides}
        path = f"/v1/registries/social/households/{household_id}"
        return await self.ok("PUT", path, roles=("social_registry_officer",), json=body)  # type: ignore[no-any-return]

    # Fetch ---------------------------------------------------------------------------------------------------------
    async def fetch(
        self,
        service: str,
        *,
        client_id: str,
        sub: str | None,
        purpose: str | None,
        legal_basis: str | None,
        fields: list[str] | None = None,
        roles: tuple[str, ...] = RP,
        retain: bool = False,
        **context: Any,
    ) -> httpx.Response:
        body: dict[str, Any] = {"service": service, "retain": retain}
        if fields is not None:
            body["fields"] = fields
        return await self.call(
            "POST",
            "/v1/fetch",
            roles=roles,
            json=body,
            client_id=client_id,
            subject_ref=sub,
            purpose=purpose,
            legal_basis=legal_basis,
            **context,
        )

    async def consented(self, service: str, items: list[str], **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("purpose", BENEFIT_CHECK)
        return await self.fetch(
            service, legal_basis="consent", consent_id="cns_1", consented_items=tuple(items), **kwargs
        )


async def table_rows(svc: Any, table_name: str) -> list[dict[str, Any]]:
    from services.exchange.models import metadata

    async with svc.app.state.sessionmaker() as session:
        result = await session.execute(select(metadata.tables[table_name]))
        return [dict(row._mapping) for row in result]


async def require_redis() -> None:
    """Skip (with the reason shown) where the Redis the distributed mode needs is not reachable."""
    import redis.asyncio as aioredis

    from tests.plugin import backend_unavailable

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:
        backend_unavailable(f"Redis at {REDIS_URL} is not reachable: {error!r}")
    finally:
        await client.aclose()


async def second_replica(api: ExchangeApi, service_factory: Any, **settings: Any) -> ExchangeApi:
    """A second instance of the exchange on `api`'s database (its file, or its PostgreSQL schema) and gateway key:
    what a second replica behind a load balancer is."""
    schema = api.svc.settings.resolved_schema
    placed = {} if schema is None else {"database_schema": schema}
    return ExchangeApi(await service_factory("exchange", **placed, **settings), api.gateway)

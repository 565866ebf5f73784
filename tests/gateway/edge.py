"""The gateway in front of real services for the rule-engine tests: identity from `service_factory`, the gateway on
its own database with a header-driven test authenticator, every upstream call counted, and every answer the
gateway gives scanned for a UIN (a leak fails the test at teardown, acceptance 4 of the gateway issue)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request

from gateway.auth.caller import AuthenticatedCaller
from services.common.problems import Unauthenticated
from services.identity.client import find_uins

CALLERS: dict[str, AuthenticatedCaller] = {
    "bank": AuthenticatedCaller(
        client_id="rp-bank", roles=("relying_party",), purposes=("KYC_ACCOUNT_OPENING",), processing_location="XS"
    ),
    "clinic": AuthenticatedCaller(client_id="rp-clinic", roles=("relying_party",), purposes=("HEALTH_REFERRAL",)),
    "agency": AuthenticatedCaller(
        client_id="rp-agency",
        roles=("relying_party",),
        purposes=("KYC_ACCOUNT_OPENING", "BENEFIT_ELIGIBILITY", "AML_SCREENING", "SANCTIONS_CHECK"),
    ),
    "registrar": AuthenticatedCaller(client_id="reg-office", roles=("registrar",)),
    "adjudicator": AuthenticatedCaller(client_id="adj-office", roles=("adjudicator",)),
    "operator": AuthenticatedCaller(client_id="field-desk", roles=("assisted_operator",)),
    "auditor": AuthenticatedCaller(client_id="audit-office", roles=("auditor",)),
    "oversight": AuthenticatedCaller(client_id="oversight-board", roles=("oversight",)),
    "trainer": AuthenticatedCaller(client_id="trainer-1", roles=("trainer",)),
    "police": AuthenticatedCaller(client_id="le-police", roles=("law_enforcement",), purposes=("CRIMINAL_INQUIRY",)),
    "oidc_admin": AuthenticatedCaller(client_id="oidc-admin", roles=("oidc_admin",)),
    "fsp": AuthenticatedCaller(client_id="fsp-1", roles=("fsp",)),
    "programme": AuthenticatedCaller(client_id="prog-1", roles=("programme",)),
}


class HeaderAuthenticator:
    """Stands in for caller authentication (the gateway issue's other half): `X-Test-Caller: bank` is CALLERS'
    bank, `X-Test-Caller: citizen:<sub>` a signed-in citizen; anything else is 401, as the real one answers."""

    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        name = request.headers.get("X-Test-Caller", "")
        if name.startswith("role:"):
            role = name.removeprefix("role:")
            return AuthenticatedCaller(client_id=f"matrix-{role}", roles=(role,))
        if name.startswith("citizen:"):
            return AuthenticatedCaller(
                client_id="citizen-app", kind="citizen", roles=("subject",), subject_ref=name.removeprefix("citizen:")
            )
        if name not in CALLERS:
            raise Unauthenticated("No test caller named.", headers={"WWW-Authenticate": 'Bearer realm="test"'})
        return CALLERS[name]


def as_caller(name: str, **headers: str) -> dict[str, str]:
    return {"X-Test-Caller": name, **headers}


class CountingTransport(httpx.AsyncBaseTransport):
    """An ASGI transport to a service that counts every call the gateway makes to it, by method and path."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.calls: Counter[tuple[str, str]] = Counter()
        self.bodies: list[tuple[str, str, bytes]] = []
        self.plants: dict[str, bytes] = {}
        self.planted_headers: dict[str, dict[str, str]] = {}
        self.lost: set[str] = set()

    def lose_answers(self, path: str) -> None:
        """Let the service act on `path`, then lose its answer on the way back (a connection dropped mid-answer)."""
        self.lost.add(path)

    def plant(self, path: str, text: str) -> None:
        """Make the service's next answers on `path` carry `text` (appended inside the JSON object)."""
        self.plants[path] = text.encode()

    def plant_headers(self, path: str, headers: dict[str, str]) -> None:
        """Make the service's next answers on `path` carry these headers too."""
        self.planted_headers[path] = headers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[(request.method, request.url.path)] += 1
        self.bodies.append((request.method, request.url.path, await request.aread()))
        response = await self._inner.handle_async_request(request)
        if request.url.path in self.lost:
            raise httpx.ReadError("the answer was lost", request=request)
        planted = self.plants.get(request.url.path)
        extra_headers = self.planted_headers.get(request.url.path, {})
        if planted is None and not extra_headers:
            return response
        content = (await response.aread()).rstrip()
        if planted is not None:
            assert content.endswith(b"}"), "plants go into a JSON object"
            content = content[:-1] + b',"planted":"' + planted + b'"}'
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        headers += list(extra_headers.items())
        return httpx.Response(response.status_code, headers=headers, content=content)

    def count(self, method: str, path: str) -> int:
        return self.calls[(method, path)]


MAY_CARRY_UIN = (re.compile(r"^/identity/v1/enrolments$"), re.compile(r"^/identity/v1/persons/[^/]+$"))


@dataclass
class EgressWatch:
    """Scans every answer the gateway gives; only registrar endpoints to a registrar may carry a UIN."""

    leaks: list[str] = field(default_factory=list)

    def wrap(self, app: FastAPI) -> Any:
        watch = self

        async def scanned(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            body = bytearray()

            async def capture(message: Any) -> None:
                if message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))
                    if not message.get("more_body"):
                        watch.scan(scope, bytes(body))
                await send(message)

            await app(scope, receive, capture)

        return scanned

    def scan(self, scope: Any, body: bytes) -> None:
        found = find_uins(body)
        if not found:
            return
        caller = dict(scope["headers"]).get(b"x-test-caller", b"").decode()
        if caller == "registrar" and any(p.match(scope["path"]) for p in MAY_CARRY_UIN):
            return
        self.leaks.append(f"{scope['method']} {scope['path']} (caller {caller})")

"""Typed service-to-service HTTP: one client class per service (in that service's client.py) built on this base.

    class ConsentClient(ServiceClient):
        @endpoint("POST", "/v1/decisions", body=DecisionRequest, response=Decision)
        async def decide(self, request: DecisionRequest, *, assertion: str) -> Decision:
            response = await self._http.post("/v1/decisions", json=request.model_dump(mode="json"),
                                             headers={ASSERTION_HEADER: assertion})
            raise_for_problem(response)            # problem+json -> RemoteProblem(status, body), passed through whole
            return Decision.model_validate_json(response.content)

    consent = ConsentClient.connect("http://consent")   # explicit timeout, pooled, X-Request-ID forwarded
    consent = ConsentClient(build_http_client("http://consent", transport=httpx.ASGITransport(app=consent_app)))

`@endpoint` declares which operation a method calls, so a contract test (tests/kit/contracts.py) can check every
client method against the target app's OpenAPI document: the path and method exist, and the models agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx
import structlog
from pydantic import BaseModel

from services.common.keepalive import KeepAliveTransport
from services.common.problems import PROBLEM_MEDIA_TYPE

F = TypeVar("F", bound=Callable[..., Any])
REQUEST_ID_HEADER = "X-Request-ID"

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

# What a service tells the gateway about an answer, which the gateway records in the audit event and never forwards
# to the caller: the items of a person's data the answer released (so the person is told, SG-NOTIFY-1), and, under a
# court order, the time until which the access is kept from the person (SG-ACCESS-2).
FIELDS_RETURNED_HEADER = "X-DPI-Fields-Returned"
DISCLOSE_AFTER_HEADER = "X-DPI-Disclose-After"


class RemoteProblem(Exception):
    """A problem+json (or other error) answered by another service, kept whole so it can be passed through."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('title', '')}".strip())
        self.status = status
        self.body = body

    @property
    def type(self) -> str:
        return str(self.body.get("type", "about:blank"))


def raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    body: dict[str, Any]
    if response.headers.get("content-type", "").startswith((PROBLEM_MEDIA_TYPE, "application/json")):
        try:
            parsed = response.json()
            body = parsed if isinstance(parsed, dict) else {"detail": parsed}
        except ValueError:
            body = {"title": response.reason_phrase}
    else:
        body = {"title": response.reason_phrase}
    body.setdefault("status", response.status_code)
    raise RemoteProblem(response.status_code, body)


async def forward_request_id(request: httpx.Request) -> None:
    """Event hook: the id of the request being served (bound by RequestIdMiddleware) travels with every call it
    makes, so one id follows a request through the gateway and each service it reaches."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if isinstance(request_id, str) and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def build_http_client(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> httpx.AsyncClient:
    """The one way to make an inter-service client: explicit timeout, pooled connections, request id forwarded.

    Without a `transport`, plain `http://` calls go over the kit's KeepAliveTransport (services/common/keepalive.py:
    a quarter of httpx's own transport's CPU per call) and anything else over httpx's own."""
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport if transport is not None else KeepAliveTransport(),
        timeout=timeout,
        limits=DEFAULT_LIMITS,
        headers=headers,
        event_hooks={"request": [forward_request_id]},
    )


@dataclass(frozen=True)
class Endpoint:
    """The operation a client method calls: for the contract test against the target's OpenAPI."""

    method: str
    path: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None


def endpoint(
    method: str, path: str, *, body: type[BaseModel] | None = None, response: type[BaseModel] | None = None
) -> Callable[[F], F]:
    """Declare the operation (method, OpenAPI path template, request and response models) a client method calls."""

    def mark(function: F) -> F:
        function.__endpoint__ = Endpoint(method.upper(), path, body, response)  # type: ignore[attr-defined]
        return function

    return mark


def endpoints_of(client: type[ServiceClient]) -> dict[str, Endpoint | None]:
    """Every public method of a client class with the operation it declares (None: it declares none)."""
    return {
        name: getattr(member, "__endpoint__", None)
        for name in dir(client)
        if not name.startswith("_") and name not in _LIFECYCLE and callable(member := getattr(client, name))
    }


_LIFECYCLE = frozenset({"connect", "aclose"})


class ServiceClient:
    """Base for typed clients: holds one AsyncClient created by the owner's lifespan (or by `connect`)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @classmethod
    def connect(cls, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> Self:
        """A client on its own AsyncClient from build_http_client; close it with `aclose`."""
        return cls(build_http_client(base_url, transport=transport))

    async def aclose(self) -> None:
        await self._http.aclose()

    @endpoint("GET", "/healthz")
    async def health(self) -> dict[str, Any]:
        response = await self._http.get("/healthz")
        raise_for_problem(response)
        result: dict[str, Any] = response.json()
        return result

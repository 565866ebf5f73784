"""Typed service-to-service HTTP: one client class per service (in that service's client.py) built on this base."""

from __future__ import annotations

from typing import Any

import httpx

from services.common.problems import PROBLEM_MEDIA_TYPE

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


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


def build_http_client(
    base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, transport=transport, timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS, headers=headers
    )


class ServiceClient:
    """Base for typed clients: holds one AsyncClient created by the owner's lifespan."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def health(self) -> dict[str, Any]:
        response = await self._http.get("/healthz")
        raise_for_problem(response)
        result: dict[str, Any] = response.json()
        return result

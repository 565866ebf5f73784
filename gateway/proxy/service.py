"""Forwarding to the services: public operational paths pass as they are; everything else needs an authenticated
caller and is sent with a fresh gateway assertion for exactly one upstream audience.
"""

from __future__ import annotations

import json

import httpx
from fastapi import Request
from starlette.responses import Response

from gateway.auth.deps import current_caller
from gateway.proxy.auth import CallerAuthenticator
from services.common.assertion import ASSERTION_HEADER, AssertionMinter
from services.common.problems import PROBLEM_MEDIA_TYPE, NotFound, ProblemError

PUBLIC_UPSTREAM_PATHS = frozenset(
    {
        "healthz",
        "readyz",
        "openapi.json",
        ".well-known/jwks.json",
        ".well-known/openid-configuration",
        "v1/credentials/status-lists/1",  # identity's offline credential status list (offline verifiers fetch it)
    }
)
FORWARDED_REQUEST_HEADERS = ("accept", "accept-language", "content-type", "idempotency-key", "x-request-id")
FORWARDED_RESPONSE_HEADERS = (
    "accept", "allow", "content-type", "cache-control", "location", "retry-after", "www-authenticate",
)  # fmt: skip


class UnknownService(NotFound):
    title = "No such service"
    type_slug = "gateway/unknown-service"
    code = "gateway.unknown_service"


class UpstreamUnavailable(ProblemError):
    status = 502
    title = "Upstream service unavailable"
    type_slug = "gateway/upstream-unavailable"
    code = "gateway.upstream_unavailable"


class Proxy:
    def __init__(
        self, upstreams: dict[str, httpx.AsyncClient], minter: AssertionMinter, authenticator: CallerAuthenticator
    ) -> None:
        self._upstreams = upstreams
        self._minter = minter
        self._authenticator = authenticator

    def client_for(self, service: str) -> httpx.AsyncClient:
        try:
            return self._upstreams[service]
        except KeyError:
            raise UnknownService(
                f"There is no service {service!r}; known services: {', '.join(sorted(self._upstreams))}."
            ) from None

    async def forward(self, request: Request, service: str, path: str) -> Response:
        upstream = self.client_for(service)
        headers = {name: value for name in FORWARDED_REQUEST_HEADERS if (value := request.headers.get(name))}
        headers["x-request-id"] = request.state.request_id
        if path not in PUBLIC_UPSTREAM_PATHS:
            context = await current_caller(request)
            headers[ASSERTION_HEADER] = self._minter.mint(service, context.context())
        try:
            upstream_response = await upstream.request(
                request.method,
                "/" + path,
                params=list(request.query_params.multi_items()),
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(f"The {service} service did not answer ({type(error).__name__}).") from error
        response_headers = {
            name: value for name in FORWARDED_RESPONSE_HEADERS if (value := upstream_response.headers.get(name))
        }
        content = upstream_response.content
        if upstream_response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
            content = _problem_at(content, request.url.path)
        return Response(content, upstream_response.status_code, headers=response_headers)


def _problem_at(content: bytes, path: str) -> bytes:
    """A service's problem+json with `instance` naming the path the caller used: the gateway's, not the service's."""
    try:
        problem = json.loads(content)
    except ValueError:
        return content
    if not isinstance(problem, dict) or "instance" not in problem:
        return content
    problem["instance"] = path
    return json.dumps(problem, separators=(",", ":")).encode()

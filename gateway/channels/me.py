"""The person's own addresses at the gateway: `/me/...` for the services' subject routes (consents, receipts, VIDs,
corrections, auth factors, PIN, offline credentials, payment links, notices).

Each alias is declared as data beside its route in routes.yaml (`alias:`), and served by forwarding to that route,
so it is the same operation under the same rules, with the same assertion and audit event, as
`/<service>/v1/me/...`. A /me path not declared there (and not served by the gateway itself, as the access log and
grievances are) does not exist: deny by default. The aggregated OpenAPI lists each alias with the service's own
request and response schemas (gateway/openapi.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.proxy.errors import MethodNotAllowed
from gateway.proxy.router import METHODS
from gateway.rules.routes import Route, RouteTable, load_routes


def alias_router(routes: RouteTable | None = None) -> APIRouter:
    router = APIRouter(tags=["me"])
    allowed: dict[str, list[str]] = {}
    for route in routes or load_routes():
        if route.alias is not None:
            router.add_api_route(
                route.alias,
                _forwarder(route),
                methods=[route.method],
                name=f"{route.id}.alias",
                include_in_schema=False,
            )
            allowed.setdefault(route.alias, []).append(route.method)
    for path, methods in allowed.items():  # another method on a declared alias: 405 with Allow, not "no service"
        others = [m for m in METHODS if m not in methods]
        router.add_api_route(path, _not_allowed(sorted(methods)), methods=others, include_in_schema=False)
    return router


def _not_allowed(methods: list[str]) -> Callable[[Request], Awaitable[Response]]:
    async def refuse(request: Request) -> Response:
        raise MethodNotAllowed(
            f"{request.method} is not an operation of {request.url.path}; allowed: {', '.join(methods)}.",
            headers={"Allow": ", ".join(methods)},
        )

    return refuse


def _forwarder(route: Route) -> Callable[[Request], Awaitable[Response]]:
    async def forward(request: Request) -> Response:
        path = route.filled({name: str(value) for name, value in request.path_params.items()})
        response: Response = await request.app.state.proxy.forward(request, route.service, path.removeprefix("/"))
        return response

    return forward

"""The aggregated OpenAPI document at `/openapi.json` (and so the `/docs` page): the gateway's own operations and
every service's, under their gateway prefix, as a developer calls them.

Each service's `openapi.json` is fetched through the gateway's upstream clients and merged: only the operations the
route table declares (anything else is refused at the gateway, so it is not offered), its paths under `/<service>`,
its schemas renamed `<service>.<Schema>` so that two services' models cannot collide. The services' own security
scheme (the gateway assertion) is the gateway's business and is replaced by the gateway's: a bearer access token
(what `dpi-sandbox token --client NAME` prints, and what the page's Authorize button takes), OAuth 2.0 client
credentials with private_key_jwt, DPoP proofs, and citizens' OpenID Connect sign-in. Every operation lists the
problems the gateway itself can answer (401, 403 naming the route's rules, 429, 502) beside the service's own, and
the context headers its route takes (X-Purpose, X-Legal-Basis, X-Consent-Id, X-Court-Order).

The merged document is cached for `CACHE_SECONDS`; a service that does not answer is left out and retried sooner.
The gateway's own document alone is at `/openapi/gateway.json`.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Iterable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route as StarletteRoute

from gateway.auth.errors import InvalidToken, RateLimited
from gateway.auth.scopes import SCOPES
from gateway.config import UPSTREAM_NAMES, GatewaySettings
from gateway.rules.context import CONSENT_HEADER, COURT_ORDER_HEADER, LEGAL_BASIS_HEADER, PURPOSE_HEADER
from gateway.rules.routes import Route, load_routes
from services.common.problems import PROBLEM_MEDIA_TYPE, PolicyDenied, ServiceUnavailable

CACHE_SECONDS = 60.0

RETRY_SECONDS = 5.0
OPENAPI_PATH = "/openapi.json"
GATEWAY_OPENAPI_PATH = "/openapi/gateway.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_TEMPLATE = re.compile(r"\{[^}]*\}")
_CONTEXT_HEADERS = (
    ("purpose", PURPOSE_HEADER, "The purpose of the request (a code from the purpose registry)."),
    ("legal_basis", LEGAL_BASIS_HEADER, "consent, statute, court_order, contract or none."),
    ("consent_id", CONSENT_HEADER, "The consent artefact the request relies on."),
    ("court_order", COURT_ORDER_HEADER, "The court order a law-enforcement caller acts under."),
)


def security_schemes(settings: GatewaySettings) -> dict[str, Any]:
    return {
        "BearerToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /oauth2/token, or a citizen's ID token. In a dev sandbox, "
            "`dpi-sandbox token --client demo-agency` prints one: paste it here (Authorize). Tokens of FSPs and "
            "programmes are DPoP-bound and need a proof per request, which this page cannot sign.",
        },
        "ClientCredentials": {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials (RFC 6749 section 4.4) with private_key_jwt client "
            "authentication (RFC 7523): the client signs an assertion with its registered key; see "
            "/.well-known/oauth-authorization-server. Client libraries such as authlib do this; the docs page "
            "cannot, so use BearerToken with a token from the CLI.",
            "flows": {"clientCredentials": {"tokenUrl": settings.token_endpoint, "scopes": dict(SCOPES)}},
        },
        "DPoP": {
            "type": "apiKey",
            "in": "header",
            "name": "DPoP",
            "description": "RFC 9449 proof of possession, with `Authorization: DPoP <token>`: a dpop+jwt signed by "
            "the key the token is bound to, naming the method (htm) and URL (htu), fresh (iat), single-use (jti), "
            "with ath (the token's SHA-256). Required for FSPs and programmes.",
        },
        "CitizenOidc": {
            "type": "openIdConnect",
            "openIdConnectUrl": settings.identity_issuer.rstrip("/") + "/.well-known/openid-configuration",
            "description": "Citizens sign in at the identity service (authorization code + PKCE) through a citizen "
            "app and present the ID token as a bearer token.",
        },
    }


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _operation_security(route: Route) -> list[dict[str, list[str]]]:
    if route.access != "authenticated":
        return []
    alternatives: list[dict[str, list[str]]] = [
        {"BearerToken": []},
        {"ClientCredentials": list(route.scopes)},
        {"BearerToken": [], "DPoP": []},
    ]
    if "subject" in route.roles:
        alternatives.append({"CitizenOidc": ["openid"]})
    return alternatives


_GATEWAY_SECURITY = [
    {"BearerToken": []},
    {"ClientCredentials": []},
    {"BearerToken": [], "DPoP": []},
    {"CitizenOidc": ["openid"]},
]


def _gateway_problems(route: Route) -> dict[str, dict[str, Any]]:
    if route.access != "authenticated":
        return {"502": _problem("The service behind the gateway did not answer.")}
    rules = ", ".join(route.rules) or "SG-SEC-1"
    roles = ", ".join(route.roles) or "none"
    return {
        "401": _problem(f"{InvalidToken.title}: no, an expired or another audience's token, or a bad DPoP proof."),
        "403": _problem(f"{PolicyDenied.title} ({rules}); admitted roles: {roles}."),
        "429": _problem(f"{RateLimited.title}: see Retry-After."),
        "502": _problem("The service behind the gateway did not answer, or its answer was withheld (SG-TOKEN-1)."),
    }


def _rename_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        renamed = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                renamed[key] = "#/components/schemas/" + prefix + value.rsplit("/", 1)[1]
            else:
                renamed[key] = _rename_refs(value, prefix)
        return renamed
    if isinstance(node, list):
        return [_rename_refs(item, prefix) for item in node]
    return node


def _shape(path: str) -> str:
    return _TEMPLATE.sub("{}", path)


def merge(
    gateway_doc: dict[str, Any], upstream_docs: dict[str, dict[str, Any]], settings: GatewaySettings
) -> dict[str, Any]:
    """The aggregated document: `gateway_doc` without the proxy's catch-all, plus each service's declared operations."""
    gateway_doc = copy.deepcopy(gateway_doc)
    document = gateway_doc
    document["paths"] = {p: ops for p, ops in document.get("paths", {}).items() if not p.startswith("/{service}/")}
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = security_schemes(settings)
    routes = {(r.service, r.method.lower(), _shape(r.path)): r for r in load_routes()}
    tags = {t["name"]: t for t in document.get("tags", [])}
    for service, upstream in sorted(upstream_docs.items()):
        prefix = f"{service}."
        for name, schema in upstream.get("components", {}).get("schemas", {}).items():
            schemas[prefix + name] = _rename_refs(schema, prefix)
        tags.setdefault(service, {"name": service, "description": upstream.get("info", {}).get("description", "")})
        for path, operations in upstream.get("paths", {}).items():
            merged: dict[str, Any] = {}
            for method, operation in operations.items():
                route = routes.get((service, method, _shape(path)))
                if method not in METHODS or route is None:
                    continue  # not declared: the gateway refuses it, so it is not offered
                merged[method] = _operation(service, operation, route, prefix)
            if merged:
                document["paths"][f"/{service}{path}"] = {
                    **(
                        {"parameters": _rename_refs(operations["parameters"], prefix)}
                        if "parameters" in operations
                        else {}
                    ),
                    **merged,
                }
    _add_aliases(document, routes.values())
    _secure_own_operations(document)
    document["tags"] = list(tags.values())
    unavailable = sorted(set(settings.upstream_urls()) - set(upstream_docs))
    if unavailable:
        document.setdefault("info", {})["x-dpi-services-unavailable"] = unavailable
    return document


def _add_aliases(document: dict[str, Any], routes: Iterable[Route]) -> None:
    """Each declared /me alias as its own operation: the service operation's schemas, under the person's path."""
    paths = document["paths"]
    by_shape = {_shape(path): path for path in paths}
    for route in routes:
        source = by_shape.get(_shape(route.gateway_path))
        method = route.method.lower()
        if route.alias is None or source is None or method not in paths[source]:
            continue  # the service is not answering now: its aliases come back with it
        operation = copy.deepcopy(paths[source][method])
        operation["operationId"] = "me_" + operation["operationId"]
        operation["tags"] = ["me"]
        operation["description"] = (
            f"The person's own address for `{route.method} {source}`: the same operation, rules and audit event.\n\n"
            + operation.get("description", "")
        )
        item = paths.setdefault(route.alias, {})
        if "parameters" in paths[source]:
            item.setdefault("parameters", paths[source]["parameters"])
        item[method] = operation


def _secure_own_operations(document: dict[str, Any]) -> None:
    """The gateway's own authenticated operations (those that can answer 401) take the gateway's schemes."""
    for path, operations in document.get("paths", {}).items():
        if path.split("/")[1] in UPSTREAM_NAMES:
            continue
        for method, operation in operations.items():
            if method in METHODS and "401" in operation.get("responses", {}):
                operation.setdefault("security", _GATEWAY_SECURITY)


def _operation(service: str, operation: dict[str, Any], route: Route, prefix: str) -> dict[str, Any]:
    merged: dict[str, Any] = _rename_refs(operation, prefix)
    merged["tags"] = [service, *[t for t in merged.get("tags", []) if t != service]]
    merged["operationId"] = f"{service}_{merged.get('operationId', route.id.replace('.', '_'))}"
    merged["security"] = _operation_security(route)
    merged.setdefault("description", "")
    merged["description"] = (
        merged["description"] + f"\n\nGateway route `{route.id}`; rules: {', '.join(route.rules) or 'none'}."
    ).strip()
    responses = merged.setdefault("responses", {})
    for status, response in _gateway_problems(route).items():
        if status in responses:
            responses[status] = {
                **responses[status],
                "description": responses[status].get("description", "")
                + "; at the gateway: "
                + response["description"],
            }
        else:
            responses[status] = response
    parameters = [
        p
        for p in merged.get("parameters", [])
        if p.get("in") != "header" or p.get("name", "").lower() not in {h.lower() for _, h, _ in _CONTEXT_HEADERS}
    ]
    for field, header, description in _CONTEXT_HEADERS:
        need = getattr(route.context, field)
        if need != "forbidden" and route.access == "authenticated":
            parameters.append(
                {
                    "name": header,
                    "in": "header",
                    "required": need == "required",
                    "description": description,
                    "schema": {"type": "string"},
                }
            )
    if parameters:
        merged["parameters"] = parameters
    return merged


class AggregatedOpenApi:
    def __init__(self) -> None:
        self._document: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def document(self, app: FastAPI) -> dict[str, Any]:
        if self._document is not None and time.monotonic() < self._expires:
            return self._document
        async with self._lock:
            if self._document is None or time.monotonic() >= self._expires:
                upstream = await self._fetch(app)
                settings: GatewaySettings = app.state.settings
                self._document = merge(app.openapi(), upstream, settings)
                complete = set(upstream) == set(app.state.upstream_names)
                self._expires = time.monotonic() + (CACHE_SECONDS if complete else RETRY_SECONDS)
        return self._document

    @staticmethod
    async def _fetch(app: FastAPI) -> dict[str, dict[str, Any]]:
        names = list(app.state.upstream_names)

        async def one(name: str) -> dict[str, Any] | None:
            try:
                response = await app.state.proxy.client_for(name).get(OPENAPI_PATH)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError):
                return None
            return document if isinstance(document, dict) else None

        fetched = await asyncio.gather(*(one(name) for name in names))
        return {name: doc for name, doc in zip(names, fetched, strict=True) if doc is not None}


def install_aggregated_openapi(app: FastAPI) -> None:
    """Serve the aggregated document at /openapi.json (which /docs reads) and the gateway's own beside it."""
    aggregator = AggregatedOpenApi()

    async def aggregated(request: Request) -> JSONResponse:
        try:
            return JSONResponse(await aggregator.document(request.app))
        except (RuntimeError, AttributeError) as error:  # not started yet: no upstream clients
            raise ServiceUnavailable("The gateway is starting; try again shortly.") from error

    async def own(request: Request) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != OPENAPI_PATH]
    app.router.routes[0:0] = [
        StarletteRoute(OPENAPI_PATH, aggregated, methods=["GET"], include_in_schema=False),
        StarletteRoute(GATEWAY_OPENAPI_PATH, own, methods=["GET"], include_in_schema=False),
    ]
    app.swagger_ui_parameters = {**(app.swagger_ui_parameters or {}), "persistAuthorization": True}

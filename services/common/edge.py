"""The edge rules every service and the gateway inherit, applied before a handler sees a request.

In this order, for every operation:

1. A body larger than `max_body_bytes` is refused with 413: a declared length up front (`ContentLengthGuard`, for
   every path), streamed bytes as they arrive.
2. An operation that needs a gateway assertion verifies it first: a stranger gets 401 whatever else is wrong, and
   learns nothing about the shape of the body. A hot operation may leave the assertion's replay check in flight
   once its signature verifies, while it reads (`FirstUse`); nothing is done or answered before that check passes,
   and a replay still gets 401 whatever else is wrong.
3. One rule for all text input: no NUL character in the path, a query value, a header or a body string, and no
   value longer than the edge allows (each field's schema then sets the maximum that matches its column). 422.
4. An operation with a request body accepts only the media types it documents: 415 otherwise. A JSON body that is
   not UTF-8 is malformed, like one that does not parse: 422 problem+json, as for every other bad body.

A wrong method answers 405 with `Allow` (Starlette's router; rendered as problem+json by the problem handlers).
`Text(n)` is the string type for any text field a service stores: bounded by its column, never holding a NUL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, request_response
from pydantic import AfterValidator, BaseModel, StringConstraints, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.assertion import ASSERTION_HEADER, Caller
from services.common.problems import (
    PROBLEM_MEDIA_TYPE,
    ContentTooLarge,
    InvalidInput,
    ProblemError,
    Unauthenticated,
    UnsupportedMediaType,
)

Model = TypeVar("Model", bound=BaseModel)

# Ceilings for what no field may exceed; each field's own schema is stricter where its column is.
MAX_PATH_CHARS = 2048
MAX_QUERY_VALUE_CHARS = 4096
MAX_HEADER_VALUE_CHARS = 8192
JSON_MEDIA_TYPE = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# A JSON string escape for NUL: `\u0000` preceded by an even number of backslashes (an odd run escapes itself).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain the NUL character")
    return value


def Text(max_length: int, *, min_length: int = 0) -> Any:
    """A text field stored in a column of `max_length` characters: never longer, never holding a NUL."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_no_nul)]


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


def text_issue(location: Sequence[str | int], value: str, limit: int) -> dict[str, Any] | None:
    """The validation issue of one text input under the edge rule, or None if it keeps the rule."""
    if "\x00" in value:
        return {"loc": list(location), "msg": "Text may not contain the NUL character.", "type": "string_nul"}
    if len(value) > limit:
        return {
            "loc": list(location),
            "msg": f"Text may be at most {limit} characters long.",
            "type": "string_too_long",
        }
    return None


def _request_text_issues(scope: Scope) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    if issue := text_issue(["path"], scope["path"], MAX_PATH_CHARS):
        issues.append(issue)
    raw_query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        for loc, text in ((["query"], name), (["query", name], value)):
            if issue := text_issue(loc, text, MAX_QUERY_VALUE_CHARS):
                issues.append(issue)
    for name, value in scope["headers"]:
        text = value.decode("latin-1")
        if issue := text_issue(["header", name.decode("latin-1")], text, MAX_HEADER_VALUE_CHARS):
            issues.append(issue)
    return issues


def _json_body_issue(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "The body is not UTF-8 encoded JSON."
    if b"\x00" in body or _JSON_NUL.search(body):
        return "Text may not contain the NUL character."
    return None


async def _send_problem(scope: Scope, receive: Receive, send: Send, error: ProblemError) -> None:
    state = scope.get("state", {})
    body = error.to_problem(instance=scope["path"], request_id=state.get("request_id"))
    response = JSONResponse(body, status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=error.headers)
    await response(scope, receive, send)


class ContentLengthGuard:
    """Pure ASGI: a declared body larger than the limit is refused before anything reads it (413).

    A body streamed without a length is counted by `EdgeRoute` as it is read."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    try:
                        declared = int(value)
                    except ValueError:
                        declared = self.max_body_bytes + 1
                    if declared > self.max_body_bytes:
                        await _send_problem(scope, receive, send, self.too_large())
                        return
        await self.app(scope, receive, send)

    def too_large(self) -> ContentTooLarge:
        return ContentTooLarge(f"The request body may be at most {self.max_body_bytes} bytes.")


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return dependant.call is call or any(_depends_on(sub, call) for sub in dependant.dependencies)


def _reads_its_own_body(route: APIRoute) -> bool:
    """An operation that documents its body by hand parses it itself (the OAuth token endpoint's form, whose
    errors RFC 6749 shapes): the edge limits its size, and leaves type and content to it."""
    return bool((route.openapi_extra or {}).get("requestBody"))


class EdgeRoute(APIRoute):
    """An operation whose handler applies the edge rules (see the module docstring), in their order, before FastAPI
    reads the body or solves a dependency. `install_edge` turns every operation of an app into one."""

    edge_authenticated: bool = False
    edge_caller: Callable[[Request], Awaitable[Any]] | None = None  # the app's own caller check, run first
    edge_body: bool = False  # may read a request body (limited in size)
    edge_body_types: frozenset[str] = frozenset()  # the media types it accepts; empty if it parses its own body
    # The assertion's replay check left in flight while the operation reads (see `FirstUse`); for a ShortWayRoute,
    # whose short way awaits it before its first effect (FastAPI's handler always runs after it).
    edge_claims_in_flight: bool = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = self.endpoint_handler()

        async def edge_handler(request: Request) -> Response:
            if self.edge_authenticated:
                assertion = request.headers.get(ASSERTION_HEADER)
                verifier = request.app.state.verifier
                if self.edge_claims_in_flight:
                    caller = request.state.caller = await verifier.authenticate(assertion)
                    first_use = request.state.first_use = FirstUse(verifier.claim(caller))
                    return await first_use.guard(checked(request))
                request.state.caller = await verifier.verify(assertion)
            elif self.edge_caller is not None:
                await self.edge_caller(request)
            return await checked(request)

        async def checked(request: Request) -> Response:
            if issues := _request_text_issues(request.scope):
                fields = ", ".join(".".join(str(p) for p in issue["loc"]) for issue in issues)
                raise InvalidInput(f"The request is not valid: {fields}", errors=issues)
            if self.edge_body and request.method in BODY_METHODS:
                await self._check_body(request)
            return await handle(request)

        return edge_handler

    def endpoint_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """What answers a request once the edge rules passed: FastAPI's handler (dependencies, body, endpoint), run
        only once a replay check left in flight has passed (`FirstUse`). A hot path may wrap it in a subclass
        (consent's decisions), falling back to it for anything unusual."""
        standard = super().get_route_handler()
        if not self.edge_claims_in_flight:
            return standard

        async def once_confirmed(request: Request) -> Response:
            await first_use_confirmed(request)
            return await standard(request)

        return once_confirmed

    async def _check_body(self, request: Request) -> None:
        limit: int = request.app.state.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # a body sent without a length is counted as it arrives
            size += len(chunk)
            if size > limit:
                raise ContentTooLarge(f"The request body may be at most {limit} bytes.")
            chunks.append(chunk)
        body = request._body = b"".join(chunks)  # what Request.body() caches: the handler reads these bytes
        if not body or not self.edge_body_types:
            return
        media_type = _media_type(request.headers.get("content-type"))
        types = self.edge_body_types
        if media_type not in types and not (JSON_MEDIA_TYPE in types and _is_json(media_type)):
            raise UnsupportedMediaType(
                f"Send the body as {' or '.join(sorted(types))}; {media_type or 'no content type'} is not accepted.",
                headers={"Accept": ", ".join(sorted(types))},
            )
        if detail := _json_body_issue(body):
            raise InvalidInput(detail, errors=[{"loc": ["body"], "msg": detail, "type": "body_invalid"}])


class FirstUse:
    """A verified assertion's replay check (`AssertionVerifier.claim`), started at once and left in flight while the
    operation does what needs no first use, a read, so that the two round trips overlap instead of adding up.

    Nothing is answered before it passes: `guard` awaits it after the operation, and a replayed assertion gets 401
    whatever else the operation found, as it would have first (not a 422 for its body, nor a 403 for its roles).
    Nothing is done before it passes either: the operation awaits `confirmed()` before its first effect (a
    provider called, a counter moved, a row written). The signature, times and claims were checked before the
    request was read any further, so only a caller the gateway signed for gets this far."""

    def __init__(self, claim: Coroutine[Any, Any, None]) -> None:
        self._claim = asyncio.ensure_future(claim)

    async def confirmed(self) -> None:
        """Return once the assertion is confirmed unused; raise the claim's 401 (replay) or 503 (store down)."""
        await asyncio.shield(self._claim)  # a waiter cancelled here leaves the claim to `guard`

    async def guard(self, operation: Awaitable[Response]) -> Response:
        try:
            response = await operation
        except asyncio.CancelledError:
            self._claim.cancel()  # also on a claim that has failed already: its refusal is not logged as lost
            raise
        except BaseException:
            await self.confirmed()  # a replay is refused as one, whatever else went wrong
            raise
        await self.confirmed()
        return response


async def first_use_confirmed(request: Request) -> None:
    """The request's assertion confirmed unused, where the edge left its check in flight (`FirstUse`); else at once."""
    first_use = getattr(request.state, "first_use", None)
    if first_use is not None:
        await first_use.confirmed()


class ShortWayRoute(EdgeRoute):
    """An operation so frequent that its usual request takes a short way past FastAPI's handler.

    The edge has verified the gateway assertion by the time this runs (`request.state.caller`). A caller holding
    one of `short_way_roles` is offered to `short_way`, which answers it with the same code as the endpoint, from
    input it validated once with the endpoint's own model (`validated_body`), without FastAPI solving the
    endpoint's dependencies and parsing and validating the input again; or returns None. Anything else, a caller
    without the role or input the model refuses, goes to FastAPI's handler, which answers exactly as it always has
    (SG-SEC-1, or 422 with every issue). The OpenAPI document comes from the declaration as usual.
    """

    short_way_roles: tuple[str, ...] = ()

    async def short_way(self, request: Request, caller: Caller) -> Response | None:
        """The answer, or None to let FastAPI's handler answer. With `edge_claims_in_flight` it awaits
        `first_use_confirmed(request)` before its first effect."""
        raise NotImplementedError

    def endpoint_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().endpoint_handler()  # FastAPI's handler, after any replay check in flight

        async def short_or_standard(request: Request) -> Response:
            caller = getattr(request.state, "caller", None)
            if not (isinstance(caller, Caller) and caller.has_role(*self.short_way_roles)):
                return await standard(request)
            response = await self.short_way(request, caller)
            return response if response is not None else await standard(request)

        return short_or_standard


async def validated_body(request: Request, model: type[Model]) -> Model | None:
    """The request's JSON body as `model`, validated once from its bytes; None if the model refuses it."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError:
        return None


def install_edge(
    routers: Iterable[APIRouter], *, authenticated: Iterable[APIRouter], authenticate: Any, caller: Any = None
) -> None:
    """Make every operation of `routers` an `EdgeRoute` and document what the edge may answer. Call before the
    routers are included. Operations of the `authenticated` routers, and any depending on `authenticate` (the
    dependency verifying the gateway assertion), authenticate at the edge; the dependency then returns that caller.
    Operations depending on `caller` (an app's own authentication dependency, taking only the request, which caches
    the caller it finds) have it run at the edge too, before any body is read.
    """
    protected = {id(router) for router in authenticated}
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            if not isinstance(route, EdgeRoute):
                route.__class__ = EdgeRoute  # same state, one method more; its handler is rebuilt just below
            assert isinstance(route, EdgeRoute)
            route.edge_authenticated = id(router) in protected or _depends_on(route.dependant, authenticate)
            route.edge_caller = caller if caller is not None and _depends_on(route.dependant, caller) else None
            route.edge_body = bool((route.methods or set()) & BODY_METHODS)  # any body it may read is limited in size
            json_body = route.body_field is not None and not _reads_its_own_body(route)
            route.edge_body_types = frozenset({JSON_MEDIA_TYPE}) if json_body else frozenset()
            route.app = request_response(route.get_route_handler())
            route.responses.setdefault(422, InvalidInput.openapi())
            if route.edge_authenticated or route.edge_caller is not None:
                route.responses.setdefault(401, Unauthenticated.openapi())
            if route.edge_body:
                route.responses.setdefault(413, ContentTooLarge.openapi())
            if route.edge_body_types:
                route.responses.setdefault(415, UnsupportedMediaType.openapi())


__all__ = [
    "ContentLengthGuard",
    "EdgeRoute",
    "FirstUse",
    "ShortWayRoute",
    "Text",
    "first_use_confirmed",
    "install_edge",
    "text_issue",
    "validated_body",
]

"""RFC 9457 problem+json: one error shape for every service, the gateway and every client.

A `ProblemError` subclass is an expected outcome with a stable `type` URI and `code`; anything else that escapes a
handler is a 500 with a generic body (the exception text is logged with the request id, never sent to the client).
Every body carries `grievance` (where and how to complain, rule SG-GRIEV-1, from the rule catalogue) and the
`request_id`.

Rules by id (services/common/rules.py): a denial names its rule, the catalogue supplies the rest.

    raise PolicyDenied("SG-SEC-1", "Only a registrar can do this.")   # title, framework_refs from the catalogue

    class ReferenceNotResolved(ProblemError):   # any other error that exists because of a rule
        status = 401
        rule_id = "SG-TOKEN-1"                  # body gets rule_id and the catalogue's framework_refs

Commit, then refuse: a refusal whose own record must be kept (a failed attempt that counts towards a limit, an
enrolment held for adjudication) is marked `commit_before_raise`; the request's session dependency
(services.common.db.get_session) then commits what the handler wrote before the problem is answered, instead of
rolling it back. Nothing else changes: the service simply raises, and no handler returns `Answer | JSONResponse`.

    class DuplicateSuspected(Conflict):      # every instance: the held enrolment and its case must be kept
        commit_before_raise = True

    raise AuthenticationFailed(...).after_commit()   # this one: the failed attempt was recorded and must count
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import rules
from services.common.logging import redact_text

PROBLEM_BASE = "https://problems.dpi-sandbox.example"
PROBLEM_MEDIA_TYPE = "application/problem+json"
DEFAULT_GRIEVANCE: dict[str, str] = rules.catalogue().grievance.model_dump(exclude_none=True)

DATA_EXCEPTION_CLASS = "22"  # SQLSTATE class 22: data exception (string too long, NUL, numeric out of range...)
# SQLSTATE 53300 too_many_connections, 57P03 cannot_connect_now (starting up or shutting down): the server is there
# but cannot take this request now. Like a pool that stayed full past its timeout, that is overload, not a fault.
OVERLOAD_SQLSTATES = frozenset({"53300", "57P03"})
OVERLOAD_RETRY_AFTER = "1"

log = structlog.get_logger(__name__)


class Grievance(BaseModel):
    href: str = Field(description="Where to file a grievance about this outcome.")
    authority: str = Field(description="The body responsible for handling it.")
    phone: str | None = None


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """The RFC 9457 body, with the sandbox's extension members."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI that identifies the problem type; stable once published.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = Field(default=None, description="A stable dotted code, e.g. `identity.duplicate`.")
    request_id: str | None = None
    grievance: Grievance | None = None
    rule_id: str | None = Field(default=None, description="The safeguard rule behind a policy denial.")
    framework_refs: list[str] | None = None
    audit_event_id: str | None = None
    errors: list[ValidationIssue] | None = None


def safe_instance(path: str | None) -> str | None:
    """The request path as a problem's `instance`, with anything shaped like a UIN or phone number a caller put in it
    masked (the sandbox's own ids kept): an error never echoes personal data back."""
    return None if path is None else redact_text(path)


class ProblemError(Exception):
    """An expected, client-visible failure. Subclasses set the class attributes; instances add detail and extras."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    type_slug: ClassVar[str] = "common/bad-request"
    code: ClassVar[str] = "common.bad_request"
    # The safeguard rule this error exists because of: the body then names it, with the catalogue's references.
    rule_id: str | None = None
    # Commit the request's transaction before answering (see the module docstring), instead of rolling it back:
    # set on a class whose every instance is such a refusal, or per instance with `after_commit()`.
    commit_before_raise: bool = False
    headers: dict[str, str] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.rule_id is not None:
            rules.rule(cls.rule_id)  # an unknown rule id fails when the module is imported

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None, **extensions: Any):
        super().__init__(detail or self.title)
        if "framework_refs" in extensions:
            raise TypeError("framework_refs come from the rule catalogue: name the rule (rule_id) instead")
        if "rule_id" in extensions:
            raise TypeError("set rule_id on the error class (or raise PolicyDenied), not as an extension")
        self.detail = detail
        self.extensions = extensions
        if headers:
            self.headers = dict(headers)

    def after_commit(self) -> Self:
        """This refusal, to be answered only after the request's transaction commits: `raise error.after_commit()`."""
        self.commit_before_raise = True
        return self

    @classmethod
    def type_uri(cls) -> str:
        return f"{PROBLEM_BASE}/{cls.type_slug}"

    def to_problem(self, *, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": safe_instance(instance),
            "code": self.code,
            "request_id": request_id,
            "grievance": DEFAULT_GRIEVANCE,
        }
        if self.rule_id is not None:
            body["rule_id"] = self.rule_id
            body["framework_refs"] = list(rules.rule(self.rule_id).framework_refs)
        body.update(self.extensions)
        return {key: value for key, value in body.items() if value is not None}

    def response(self, request: Request) -> Response:
        """The answer to the client: problem+json. A protocol that fixes another error shape (OAuth's token
        endpoint) overrides this, so that its errors can still be raised, and committed first, like any other."""
        body = self.to_problem(instance=request.url.path, request_id=_request_id(request))
        return problem_response(request, self.status, body, self.headers)

    @classmethod
    def openapi(cls) -> dict[str, Any]:
        return {
            "description": f"{cls.title} (`{cls.code}`)",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }


class Unauthenticated(ProblemError):
    status = 401
    title = "Authentication required"
    type_slug = "common/unauthenticated"
    code = "common.unauthenticated"


class PolicyDenied(ProblemError):
    """A denial under a safeguard rule: 403 unless told otherwise, its title and references from the catalogue.

    `PolicyDenied("SG-NOPE-1", ...)` raises `rules.UnknownRule` at once: a denial never names a rule that does not
    exist. The type URI is `.../rules/<rule id>`.
    """

    status = 403
    title = "Denied by a safeguard rule"
    type_slug = "rules"
    code = "policy.denied"

    def __init__(
        self,
        rule_id: str,
        detail: str,
        *,
        audit_event_id: str | None = None,
        status: int | None = None,
        **extensions: Any,
    ):
        self.rule = rules.rule(rule_id)
        super().__init__(detail, **extensions)
        self.rule_id = rule_id
        self.title = self.rule.title  # type: ignore[misc]
        if audit_event_id:
            self.extensions["audit_event_id"] = audit_event_id
        if status is not None:
            self.status = status  # type: ignore[misc]

    def to_problem(self, *, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        body = super().to_problem(instance=instance, request_id=request_id)
        body["type"] = f"{PROBLEM_BASE}/rules/{self.rule_id}"
        return body


class NotFound(ProblemError):
    status = 404
    title = "Not found"
    type_slug = "common/not-found"
    code = "common.not_found"


class Conflict(ProblemError):
    status = 409
    title = "Conflict"
    type_slug = "common/conflict"
    code = "common.conflict"


class InvalidInput(ProblemError):
    status = 422
    title = "Invalid input"
    type_slug = "common/invalid-input"
    code = "common.invalid_input"


class ContentTooLarge(ProblemError):
    status = 413
    title = "Request body too large"
    type_slug = "common/content-too-large"
    code = "common.content_too_large"


class UnsupportedMediaType(ProblemError):
    status = 415
    title = "Unsupported media type"
    type_slug = "common/unsupported-media-type"
    code = "common.unsupported_media_type"


class ServiceUnavailable(ProblemError):
    status = 503
    title = "Service unavailable"
    type_slug = "common/unavailable"
    code = "common.unavailable"


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for an endpoint: each error class documented under its status."""
    responses: dict[int | str, dict[str, Any]] = {422: InvalidInput.openapi()}
    by_status: dict[int, list[type[ProblemError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    for status, group in by_status.items():
        described = "; ".join(f"{e.title} (`{e.code}`)" for e in group)
        responses[status] = {**group[0].openapi(), "description": described}
    return responses


def problem_response(
    request: Request, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return exc.response(request)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [
        {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in issue["loc"]) for issue in issues)
    error = InvalidInput(f"The request is not valid: {fields}", errors=issues)
    return problem_response(request, 422, error.to_problem(instance=request.url.path, request_id=_request_id(request)))


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = {
        "type": "about:blank",
        "title": exc.detail if isinstance(exc.detail, str) else "HTTP error",
        "status": exc.status_code,
        "instance": safe_instance(request.url.path),
        "request_id": _request_id(request),
        "grievance": DEFAULT_GRIEVANCE,
    }
    return problem_response(request, exc.status_code, body, exc.headers)


async def _handle_database(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if sqlstate in OVERLOAD_SQLSTATES or "too many clients" in str(exc.orig):
        return await _handle_overload(request, exc)
    if not sqlstate.startswith(DATA_EXCEPTION_CLASS):
        return await _handle_unexpected(request, exc)
    # A value the database refuses as data (too long for its column, a NUL, out of range): the input was bad, and a
    # schema let it through. Answered as the 422 it is; logged (without the value) so the constraint gets added.
    log.warning("request.data_exception", error_type=type(exc.orig).__name__)
    error = InvalidInput("A value does not fit the field it is stored in.")
    return problem_response(request, 422, error.to_problem(instance=request.url.path, request_id=_request_id(request)))


async def _handle_overload(request: Request, exc: Exception) -> JSONResponse:
    """No database connection could be had in time (the pool stayed full, or the server refused one): 503 with
    `Retry-After`, so a client backs off and tries again, instead of a 500 that reads as a defect. Nothing was done:
    the request never reached a transaction."""
    log.warning("request.overloaded", error_type=type(exc).__name__)
    error = ServiceUnavailable("The service is busy; try again shortly.")
    body = error.to_problem(instance=request.url.path, request_id=_request_id(request))
    return problem_response(request, 503, body, {"Retry-After": OVERLOAD_RETRY_AFTER})


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.failed", error_type=type(exc).__name__)
    body = {
        "type": f"{PROBLEM_BASE}/common/internal",
        "title": "Internal error",
        "status": 500,
        "detail": "The request failed on our side; quote the request id when you report it.",
        "instance": safe_instance(request.url.path),
        "request_id": _request_id(request),
        "grievance": DEFAULT_GRIEVANCE,
    }
    return problem_response(request, 500, body)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(DBAPIError, _handle_database)
    app.add_exception_handler(PoolTimeout, _handle_overload)
    app.add_exception_handler(Exception, _handle_unexpected)

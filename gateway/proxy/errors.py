"""The proxy's own problems (a policy denial is a `PolicyDenied` naming its rule; these are not denials)."""

from __future__ import annotations

from services.common.problems import NotFound, ProblemError


class UnknownService(NotFound):
    title = "No such service"
    type_slug = "gateway/unknown-service"
    code = "gateway.unknown_service"


class MethodNotAllowed(ProblemError):
    status = 405
    title = "Method not allowed"
    type_slug = "gateway/method-not-allowed"
    code = "gateway.method_not_allowed"


class UpstreamUnavailable(ProblemError):
    status = 502
    title = "Upstream service unavailable"
    type_slug = "gateway/upstream-unavailable"
    code = "gateway.upstream_unavailable"

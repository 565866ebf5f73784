"""Router helpers: answer a refusal as problem+json once the request's transaction has committed."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from services.common.problems import ProblemError, problem_response
from services.identity.authn.service import Refusal

Answer = TypeVar("Answer")


def refusal_response(request: Request, error: ProblemError) -> JSONResponse:
    # Returned rather than raised: raising would roll back the attempt's record, which must be kept.
    body = error.to_problem(instance=request.url.path, request_id=getattr(request.state, "request_id", None))
    return problem_response(request, error.status, body, error.headers)


def answer_or_refusal(request: Request, outcome: Answer | Refusal) -> Answer | JSONResponse:
    """The service's answer, or its refusal as problem+json (see `refusal_response`)."""
    return refusal_response(request, outcome.error) if isinstance(outcome, Refusal) else outcome

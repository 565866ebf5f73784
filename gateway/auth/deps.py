"""FastAPI dependencies for the gateway's own routes (`/me`, `/audit`, `/governance`, the proxy): the caller, once
per request, and role requirements that deny with SG-SEC-1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

from fastapi import Depends, Request

from gateway.auth.caller import AuthenticatedCaller
from services.common.problems import PolicyDenied


class Authenticator(Protocol):
    """Proves who sent a request, or raises `Unauthenticated` (401 problem+json)."""

    async def authenticate(self, request: Request) -> AuthenticatedCaller: ...


async def current_caller(request: Request) -> AuthenticatedCaller:
    """The request's authenticated caller; authenticated once per request, whatever asks for it."""
    cached: AuthenticatedCaller | None = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    caller = await authenticator.authenticate(request)
    request.state.caller = caller
    return caller


CurrentCaller = Annotated[AuthenticatedCaller, Depends(current_caller)]


def require_roles(*roles: str) -> Callable[..., Awaitable[AuthenticatedCaller]]:
    """A dependency that admits a caller holding any of `roles`, and denies anyone else with SG-SEC-1 (403)."""

    async def dependency(caller: CurrentCaller) -> AuthenticatedCaller:
        if not caller.has_role(*roles):
            raise PolicyDenied(
                "SG-SEC-1",
                f"This operation needs one of the roles {', '.join(roles)}; the caller holds "
                f"{', '.join(caller.roles) or 'none'}.",
            )
        return caller

    return dependency

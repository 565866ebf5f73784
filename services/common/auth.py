"""FastAPI dependencies every service uses: the verified caller (deny by default), roles, the session, the clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import ASSERTION_HEADER, Caller
from services.common.clock import Clock
from services.common.db import get_session
from services.common.problems import PolicyDenied

gateway_assertion_scheme = APIKeyHeader(
    name=ASSERTION_HEADER,
    scheme_name="GatewayAssertion",
    description="A 60-second ES256 JWT minted by the gateway for this service. Services are reachable only through "
    "the gateway; a request without a valid, unused assertion gets 401.",
    auto_error=False,
)


async def verified_caller(
    request: Request, assertion: Annotated[str | None, Security(gateway_assertion_scheme)]
) -> Caller:
    verified = getattr(request.state, "caller", None)  # the edge verifies first (services.common.edge)
    if isinstance(verified, Caller):
        return verified
    caller: Caller = await request.app.state.verifier.verify(assertion)
    return caller


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


CallerDep = Annotated[Caller, Depends(verified_caller)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]


def require_roles(*roles: str) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that admits callers holding any of `roles`; others are denied under SG-SEC-1 (least privilege)."""

    async def dependency(caller: CallerDep) -> Caller:
        if not caller.has_role(*roles):
            raise PolicyDenied(
                "SG-SEC-1",
                f"This operation needs one of the roles {', '.join(roles)}; the caller has "
                f"{', '.join(caller.roles) or 'none'}.",
            )
        return caller

    return dependency

"""The consent service's named dependencies: its runtime (clock, outbox, signing key, settings) and role gates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.assertion import Caller
from services.common.auth import require_roles
from services.common.clock import Clock
from services.common.groupcommit import GroupCommit
from services.common.keys import SigningKey
from services.common.outbox import Outbox
from services.consent.config import ConsentSettings


@dataclass(frozen=True)
class Runtime:
    """What the domain services need besides the session and the caller."""

    clock: Clock
    outbox: Outbox
    signing_key: SigningKey
    settings: ConsentSettings
    engine: AsyncEngine  # for the decision's own statement outside the request session (decisions/service.py)
    permits: GroupCommit[dict[str, Any], Any]  # the process's permits, committed in groups (decisions/service.py)


# `async def` although they do not await: FastAPI runs a plain `def` dependency in its thread pool.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.consent
    return runtime


GATEWAY_ROLE = "gateway"
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
GatewayDep = Annotated[Caller, Depends(require_roles(GATEWAY_ROLE))]
SubjectDep = Annotated[Caller, Depends(require_roles("subject"))]
RequesterDep = Annotated[Caller, Depends(require_roles("relying_party"))]
PurposeAdminDep = Annotated[Caller, Depends(require_roles("purpose_admin"))]
OversightDep = Annotated[Caller, Depends(require_roles("oversight"))]
ExpiryDep = Annotated[Caller, Depends(require_roles("oversight", "gateway_internal"))]

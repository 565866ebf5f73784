"""The client registry over HTTP: oversight (and trainers, for workshops) register; oversight approves and suspends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.clients.errors import (
    ClientExists,
    ClientNotFound,
    ClientStatusConflict,
    InvalidClientRegistration,
)
from gateway.auth.clients.models import ClientStatus
from gateway.auth.clients.schemas import ClientCreate, ClientList, ClientRead, StatusChange
from gateway.auth.clients.service import registry
from gateway.auth.deps import require_roles
from gateway.auth.errors import InvalidToken, RateLimited
from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses

router = APIRouter(prefix="/clients", tags=["clients"])

Registrar = Annotated[AuthenticatedCaller, Depends(require_roles("oversight", "trainer"))]
Reader = Annotated[AuthenticatedCaller, Depends(require_roles("oversight", "auditor", "trainer"))]
Oversight = Annotated[AuthenticatedCaller, Depends(require_roles("oversight"))]
ClientIdPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{2,99}$")]
_AUTH_ERRORS = (InvalidToken, PolicyDenied, RateLimited)


def _directory_forget(request: Request, client_id: str) -> None:
    directory = getattr(request.app.state, "client_directory", None)
    if directory is not None:
        directory.forget(client_id)


@router.post(
    "",
    status_code=201,
    summary="Register a client (oversight, trainer): pending until oversight approves it",
    description="A relying party, FSP or programme needs `dpia_ref` and `hria_ref` (422 SG-HRIA-1). FSPs and "
    "programmes move money, so their tokens are always DPoP-bound.",
    response_model=ClientRead,
    responses=problem_responses(*_AUTH_ERRORS, ClientExists, InvalidClientRegistration),
)
async def register_client(body: ClientCreate, request: Request, session: SessionDep, caller: Registrar) -> ClientRead:
    settings = request.app.state.settings
    return await registry.register(
        session,
        body,
        registered_by=caller.client_id,
        now=request.app.state.clock.now(),
        jwks_uri_allowlist=settings.client_jwks_uri_allowlist,
    )


@router.get(
    "",
    summary="List registered clients (oversight, auditor, trainer)",
    response_model=ClientList,
    responses=problem_responses(*_AUTH_ERRORS),
)
async def list_clients(
    session: SessionDep, caller: Reader, status: Annotated[ClientStatus | None, Query()] = None
) -> ClientList:
    return ClientList(items=await registry.list(session, status))


@router.get(
    "/{client_id}",
    summary="Read one client's registration (oversight, auditor, trainer)",
    response_model=ClientRead,
    responses=problem_responses(*_AUTH_ERRORS, ClientNotFound),
)
async def get_client(client_id: ClientIdPath, session: SessionDep, caller: Reader) -> ClientRead:
    return await registry.get(session, client_id)


@router.post(
    "/{client_id}/approve",
    summary="Approve a client (oversight): from then on it can obtain tokens",
    response_model=ClientRead,
    responses=problem_responses(*_AUTH_ERRORS, ClientNotFound, ClientStatusConflict),
)
async def approve_client(
    client_id: ClientIdPath, body: StatusChange, request: Request, session: SessionDep, caller: Oversight
) -> ClientRead:
    result = await registry.approve(
        session, client_id, approved_by=caller.client_id, now=request.app.state.clock.now(), reason=body.reason
    )
    _directory_forget(request, client_id)
    return result


@router.post(
    "/{client_id}/suspend",
    summary="Suspend a client (oversight): no new tokens, and its live tokens are refused",
    response_model=ClientRead,
    responses=problem_responses(*_AUTH_ERRORS, ClientNotFound, ClientStatusConflict),
)
async def suspend_client(
    client_id: ClientIdPath, body: StatusChange, request: Request, session: SessionDep, caller: Oversight
) -> ClientRead:
    result = await registry.suspend(session, client_id, now=request.app.state.clock.now(), reason=body.reason)
    _directory_forget(request, client_id)
    return result

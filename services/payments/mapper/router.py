"""The mapper over HTTP: FSPs and the operator link accounts; programmes and FSPs resolve; a person manages theirs."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from services.common.assertion import Caller
from services.common.auth import SessionDep
from services.common.edge import ShortWayRoute
from services.common.http import FIELDS_RETURNED_HEADER
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.payments.deps import RESOLVER_ROLES, FspDep, ResolverDep, Runtime, RuntimeDep, SubjectDep
from services.payments.ledger.errors import AccountNotFound, ParticipantNotFound
from services.payments.mapper.errors import LinkExists, LinkNotFound, NotAccountHolder, Unresolvable
from services.payments.mapper.schemas import (
    LinkCreate,
    LinkPage,
    LinkRead,
    LinkUpdate,
    MyLinkCreate,
    Resolution,
    ResolvedMany,
    ResolveMany,
    ResolveQuery,
)
from services.payments.mapper.service import mapper as mapper_service

# What a resolve or a party lookup releases of a person: where their money goes. Named to the gateway, which records
# it and tells the person (SG-NOTIFY-1). A constant header on the answer, nothing written here: the gateway's
# decision record, which it writes for every request anyway, carries it, and its notice job reads that record.
RESOLVED_FIELDS = "fsp_id,address,address_kind"
_RESOLVED_HEADERS = {FIELDS_RETURNED_HEADER: RESOLVED_FIELDS}


async def _answer(query: ResolveQuery, rt: Runtime) -> Response:
    resolution = await mapper_service.resolve_now(rt, query.ref_type, query.ref)
    # Serialised once, by the model's own serializer: the response_model path would validate the finished
    # Resolution again and encode it twice, on a request every payment makes. The same JSON either way.
    return Response(resolution.model_dump_json(), media_type="application/json", headers=_RESOLVED_HEADERS)


def _well_formed(query_string: bytes) -> ResolveQuery | None:
    """The query as FastAPI would read it (Starlette's parse: the last of a repeated name counts, other names are
    ignored), validated once by the same model; None if the model refuses it."""
    try:
        return ResolveQuery.model_validate(dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)))
    except ValidationError:
        return None


class ResolveRoute(ShortWayRoute):
    """Every payment and every party lookup resolves someone, so the usual resolve takes the kit's short way: a
    resolver's query, read as FastAPI reads it and validated once by the same model, answered by the endpoint's own
    code."""

    short_way_roles = RESOLVER_ROLES

    async def short_way(self, request: Request, caller: Caller) -> Response | None:
        query = _well_formed(request.scope["query_string"])
        return None if query is None else await _answer(query, request.app.state.payments)


router = APIRouter(prefix="/v1/mapper", tags=["mapper"])
me_router = APIRouter(prefix="/v1/me/payment-links", tags=["mapper"])


@router.post(
    "/links",
    status_code=201,
    summary="Link a person reference to an account (FSP, operator)",
    description="The first link of a person is their default; `default: true` moves the default to this one.",
    response_model=LinkRead,
    responses=problem_responses(PolicyDenied, AccountNotFound, ParticipantNotFound, LinkExists, NotAccountHolder),
)
async def link(body: LinkCreate, session: SessionDep, caller: FspDep, rt: RuntimeDep) -> LinkRead:
    return await mapper_service.link(session, caller, body, rt=rt)


@router.patch(
    "/links/{link_id}",
    summary="Change a link (FSP, operator)",
    description="Make it the default, or point it at another account.",
    response_model=LinkRead,
    responses=problem_responses(PolicyDenied, LinkNotFound, AccountNotFound, LinkExists, NotAccountHolder),
)
async def update_link(link_id: str, body: LinkUpdate, session: SessionDep, caller: FspDep, rt: RuntimeDep) -> LinkRead:
    return await mapper_service.update(session, caller, link_id, body, rt=rt)


@router.delete(
    "/links/{link_id}",
    status_code=204,
    summary="Unlink (FSP, operator)",
    description="If it was the default, the person's oldest other link becomes the default.",
    responses=problem_responses(PolicyDenied, LinkNotFound),
)
async def unlink(link_id: str, session: SessionDep, caller: FspDep, rt: RuntimeDep) -> Response:
    await mapper_service.unlink(session, caller, link_id, rt=rt)
    return Response(status_code=204)


async def resolve(caller: ResolverDep, rt: RuntimeDep, query: Annotated[ResolveQuery, Query()]) -> Response:
    return await _answer(query, rt)


router.add_api_route(
    "/resolve",
    resolve,
    methods=["GET"],
    summary="Resolve a person reference to their default payment address",
    description="Releases the person's FSP and address, which `X-DPI-Fields-Returned` names to the gateway: the "
    "person is told who resolved them (SG-NOTIFY-1). Nothing is cached: an unlink or a new default is seen by the "
    "very next resolve, on every replica.",
    response_model=Resolution,
    responses=problem_responses(PolicyDenied, Unresolvable),
    route_class_override=ResolveRoute,  # the short way above
)


@router.post(
    "/resolve",
    summary="Resolve up to 1,000 person references at once",
    description="G2P Connect's batch resolve: the resolved addresses, and the references that resolved to none.",
    response_model=ResolvedMany,
    responses=problem_responses(PolicyDenied),
)
async def resolve_many(body: ResolveMany, session: SessionDep, caller: ResolverDep) -> ResolvedMany:
    return await mapper_service.resolve_many(session, body.ref_type, body.person_refs)


@me_router.get(
    "",
    summary="My payment links (the person)",
    description="Where payments to me go: every linked account, and which one is the default. Cursor-paginated, "
    "oldest first, like every list a person reads about themselves.",
    response_model=LinkPage,
    responses=problem_responses(PolicyDenied),
)
async def my_links(session: SessionDep, caller: SubjectDep, paging: PageParams) -> LinkPage:
    return await mapper_service.my_links(session, caller, paging)


@me_router.post(
    "",
    status_code=201,
    summary="Link one of my accounts (the person)",
    response_model=LinkRead,
    responses=problem_responses(PolicyDenied, AccountNotFound, LinkExists),
)
async def link_mine(body: MyLinkCreate, session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> LinkRead:
    return await mapper_service.link_mine(session, caller, body, rt=rt)


@me_router.patch(
    "/{link_id}",
    summary="Change one of my links (the person)",
    description="Make it my default, or point it at another account I hold.",
    response_model=LinkRead,
    responses=problem_responses(PolicyDenied, LinkNotFound, AccountNotFound, LinkExists),
)
async def update_mine(
    link_id: str, body: LinkUpdate, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> LinkRead:
    return await mapper_service.update_mine(session, caller, link_id, body, rt=rt)


@me_router.delete(
    "/{link_id}",
    status_code=204,
    summary="Remove one of my links (the person)",
    responses=problem_responses(PolicyDenied, LinkNotFound),
)
async def unlink_mine(link_id: str, session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> Response:
    await mapper_service.unlink_mine(session, caller, link_id, rt=rt)
    return Response(status_code=204)

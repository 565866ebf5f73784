"""The messaging simulator's read side: what the sandbox would have sent by SMS or e-mail (trainers only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.identity.deps import GatewayInternalDep, RuntimeDep, SubjectDep, TrainerDep
from services.identity.notifications.models import MessageKind
from services.identity.notifications.schemas import (
    NoticeDelivery,
    NoticeRequest,
    NotificationPage,
    SimulatedMessagePage,
)
from services.identity.notifications.service import notification as notification_service
from services.identity.persons.errors import SubjectNotFound

router = APIRouter(prefix="/v1/simulated-messages", tags=["simulator"])
notices_router = APIRouter(tags=["notifications"])


@router.get(
    "",
    summary="Read a person's simulated SMS and e-mail (SIMULATOR, trainer)",
    description="SIMULATOR ONLY. The sandbox has no real SMS or e-mail gateway: one-time codes and access notices "
    "are written here instead, for trainers and automated scenarios to read. A real deployment replaces this with "
    "a messaging provider and has no such endpoint. Bodies are stored encrypted; destinations are masked.",
    response_model=SimulatedMessagePage,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def list_simulated_messages(
    *,
    session: SessionDep,
    caller: TrainerDep,
    rt: RuntimeDep,
    recipient_sub: Annotated[str, Query(min_length=1, max_length=64, description="The recipient's `sub`.")],
    paging: PageParams,
    kind: Annotated[MessageKind | None, Query(description="Only messages of this kind.")] = None,
) -> SimulatedMessagePage:
    return await notification_service.list(
        session, caller, recipient_sub=recipient_sub, kind=kind, paging=paging, rt=rt
    )


@notices_router.post(
    "/v1/subjects/{sub}/notices",
    status_code=201,
    summary="Tell a person about an access to their data or a breach, in their language (gateway)",
    description="SG-NOTIFY-1, SG-BREACH-1, SG-GENDER-1: only identity holds a person's contact details and language, "
    "so the gateway asks it to deliver the notice: by SMS or e-mail where the person agreed to that (always for a "
    "breach), and in their app inbox in any case. The answer says which language was used and whether it fell "
    "back to English.",
    response_model=NoticeDelivery,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def send_notice(
    sub: Annotated[str, Path(min_length=1, max_length=64)],
    body: NoticeRequest,
    session: SessionDep,
    caller: GatewayInternalDep,
    rt: RuntimeDep,
) -> NoticeDelivery:
    return await notification_service.notify(session, sub, body, rt=rt)


@notices_router.get(
    "/v1/me/notifications",
    summary="My notices: who used my identity or received my data, breaches, one-time codes (subject)",
    response_model=NotificationPage,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def my_notifications(
    session: SessionDep, caller: SubjectDep, rt: RuntimeDep, paging: PageParams
) -> NotificationPage:
    return await notification_service.mine(session, caller, paging=paging, rt=rt)

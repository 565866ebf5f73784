"""The messaging simulator's read side: what the sandbox would have sent by SMS or e-mail (trainers only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.identity.deps import RuntimeDep, TrainerDep
from services.identity.notifications.models import MessageKind
from services.identity.notifications.schemas import SimulatedMessagePage
from services.identity.notifications.service import notification as notification_service
from services.identity.persons.errors import SubjectNotFound

router = APIRouter(prefix="/v1/simulated-messages", tags=["simulator"])


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

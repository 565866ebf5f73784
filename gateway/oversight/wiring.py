"""How the gateway app takes in people-and-oversight: its routers, its state and its timer."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import APIRouter, FastAPI

from gateway.config import GatewaySettings
from gateway.oversight import me, stats
from gateway.oversight.grievances import router as grievances
from gateway.oversight.grievances.schedule import GrievanceEscalation
from gateway.oversight.grievances.schemas import ServiceStandard
from gateway.oversight.grievances.service import GrievanceRuntime
from services.common.clock import Clock

ROUTERS: tuple[APIRouter, ...] = (
    me.router,
    grievances.me_router,
    grievances.officer_router,
    grievances.public_router,
    stats.router,
)


async def start_oversight(app: FastAPI, settings: GatewaySettings, clock: Clock, stack: AsyncExitStack) -> None:
    app.state.grievances = GrievanceRuntime(
        clock=clock,
        outbox=app.state.outbox,
        standard=ServiceStandard(
            acknowledge_within_hours=settings.grievance_acknowledge_hours,
            resolve_within_days=settings.grievance_resolve_days,
            payment_disputes_resolve_within_days=settings.grievance_payment_resolve_days,
        ),
    )
    escalation = GrievanceEscalation(
        app.state.sessionmaker,
        app.state.grievances,
        interval_seconds=settings.grievance_escalation_interval_seconds or 1.0,
    )
    app.state.grievance_escalation = escalation
    if settings.grievance_escalation_interval_seconds > 0:
        escalation.start()
        stack.push_async_callback(escalation.stop)

"""How the gateway app takes in people-and-oversight: its routers, its state and its timer."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta

from fastapi import APIRouter, FastAPI

from gateway.audit.log import AuditLog
from gateway.config import GatewaySettings
from gateway.oversight import me, stats
from gateway.oversight.breaches import router as breaches
from gateway.oversight.grievances import router as grievances
from gateway.oversight.grievances.schedule import GrievanceEscalation
from gateway.oversight.grievances.schemas import ServiceStandard
from gateway.oversight.grievances.service import GrievanceRuntime
from gateway.oversight.notices.schedule import NoticeTimer, WakingAudit
from gateway.oversight.notices.service import NoticeRuntime
from gateway.oversight.tally import AuditTally
from services.common.clock import Clock
from services.identity.client import IdentityClient

ROUTERS: tuple[APIRouter, ...] = (
    me.router,
    grievances.me_router,
    grievances.officer_router,
    grievances.public_router,
    stats.router,
    breaches.router,
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
    app.state.tally = AuditTally(app.state.engine)  # the audit log's counts for the public statistics
    escalation = GrievanceEscalation(
        app.state.sessionmaker,
        app.state.grievances,
        interval_seconds=settings.grievance_escalation_interval_seconds or 1.0,
    )
    app.state.grievance_escalation = escalation
    if settings.grievance_escalation_interval_seconds > 0:
        escalation.start()
        stack.push_async_callback(escalation.stop)


async def start_notices(
    app: FastAPI,
    settings: GatewaySettings,
    clock: Clock,
    stack: AsyncExitStack,
    *,
    identity: IdentityClient,
    assertion: Callable[[], str],
) -> AuditLog | WakingAudit:
    """Notices and breaches (they need identity, so they start once the upstream clients exist); the audit sink the
    proxy should append to, which wakes the notice timer on every release of a person's data."""
    notices = NoticeRuntime(clock=clock, identity=identity, assertion=assertion, audit=app.state.audit)
    timer = NoticeTimer(
        app.state.sessionmaker,
        notices,
        outbox=app.state.outbox,
        notify_within=timedelta(hours=settings.breach_notice_hours),
        interval_seconds=settings.notice_interval_seconds or 1.0,
    )
    app.state.breaches = timer.runtime
    app.state.notices = timer
    if settings.notice_interval_seconds <= 0:
        return app.state.audit  # type: ignore[no-any-return]
    timer.start()
    stack.push_async_callback(timer.stop)
    return WakingAudit(app.state.audit, timer)

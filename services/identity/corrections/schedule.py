"""Overdue corrections escalate on a timer (SG-GRIEV-3), not only when someone remembers to call the endpoint.

Every identity process runs the timer; the escalation itself takes the overdue cases with FOR UPDATE SKIP LOCKED,
so two processes at the same moment escalate disjoint cases and each case is announced once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.tasks import RepeatingTask
from services.identity.corrections.service import correction as correction_service
from services.identity.deps import Runtime

log = structlog.get_logger(__name__)


class EscalationSchedule:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], rt: Runtime, *, interval_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._rt = rt
        self._loop = RepeatingTask(
            self._run_and_log,
            interval=interval_seconds,
            name="correction-escalation",
            failure_event="identity.correction.escalation_failed",
            wait_first=True,
        )

    async def run_once(self) -> list[str]:
        """Escalate what is overdue now, in a transaction of its own; the ids of the cases escalated."""
        async with self._sessionmaker() as session, session.begin():
            result = await correction_service.escalate_overdue(session, rt=self._rt)
        return result.escalated

    async def _run_and_log(self) -> None:
        if escalated := await self.run_once():
            log.info("identity.correction.escalation_ran", escalated=len(escalated))

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


@asynccontextmanager
async def escalation_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the timer for as long as the app runs, unless the interval setting turns it off (0)."""
    rt: Runtime = app.state.identity
    interval = rt.settings.correction_escalation_interval_seconds
    if interval <= 0:
        yield
        return
    schedule = EscalationSchedule(app.state.sessionmaker, rt, interval_seconds=interval)
    app.state.correction_escalation = schedule
    schedule.start()
    try:
        yield
    finally:
        await schedule.stop()

"""Overdue grievances escalate to oversight on a timer in every gateway process (FOR UPDATE SKIP LOCKED keeps each
ticket escalated and announced once); tests call `run_once()` on the injectable clock instead of waiting."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.oversight.grievances.service import GrievanceRuntime
from gateway.oversight.grievances.service import grievance as grievance_service
from services.common.tasks import RepeatingTask


class GrievanceEscalation:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], rt: GrievanceRuntime, *, interval_seconds: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._rt = rt
        self._loop = RepeatingTask(
            self.run_once,
            interval=interval_seconds,
            name="grievance-escalation",
            failure_event="gateway.grievance.escalation_failed",
            wait_first=True,
        )

    async def run_once(self) -> list[str]:
        """Escalate what is overdue now, in a transaction of its own; the ids escalated."""
        async with self._sessionmaker() as session, session.begin():
            return await grievance_service.escalate_overdue(session, rt=self._rt)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

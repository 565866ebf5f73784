"""Consents expire on a timer (SG-CONSENT-5), so `consent.expired` is announced without anyone asking.

Every consent process runs the timer; the expiry takes due artefacts with FOR UPDATE SKIP LOCKED, so two processes
at the same moment expire disjoint artefacts and each expiry is announced once. Decisions never wait for it: an
artefact past its end of validity is refused whether or not the timer has marked it yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.tasks import RepeatingTask
from services.consent.consents.service import consent as consent_service
from services.consent.deps import Runtime

log = structlog.get_logger(__name__)


class ExpirySchedule:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], rt: Runtime, *, interval_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._rt = rt
        self._loop = RepeatingTask(
            self._run_and_log,
            interval=interval_seconds,
            name="consent-expiry",
            failure_event="consent.expiry_failed",
            wait_first=True,
        )

    async def run_once(self) -> list[str]:
        """Expire what is due by the clock now, in transactions of its own; the ids of the artefacts expired."""
        expired: list[str] = []
        while True:
            async with self._sessionmaker() as session, session.begin():
                batch = await consent_service.expire_due(session, rt=self._rt)
            expired.extend(batch)
            if not batch:
                return expired

    async def _run_and_log(self) -> None:
        if expired := await self.run_once():
            log.info("consent.expiry_ran", expired=len(expired))

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


@asynccontextmanager
async def expiry_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the timer as long as the app runs (always reachable as app.state.consent_expiry for run_once)."""
    rt: Runtime = app.state.consent
    schedule = ExpirySchedule(app.state.sessionmaker, rt, interval_seconds=rt.settings.expiry_interval_seconds)
    app.state.consent_expiry = schedule
    if rt.settings.expiry_interval_seconds > 0:
        schedule.start()
    try:
        yield
    finally:
        await schedule.stop()

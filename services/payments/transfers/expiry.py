"""Reservations are released on the clock: a timer aborts reserved transfers past their expiry.

Every process runs it; the due transfers are taken FOR UPDATE SKIP LOCKED, so two processes release disjoint ones
and each release is announced once. Tests call `run_once` on a moved clock instead of sleeping.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.tasks import RepeatingTask
from services.payments.deps import Runtime
from services.payments.transfers.service import transfer as transfer_service

log = structlog.get_logger(__name__)


class ExpiryTimer:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], rt: Runtime) -> None:
        self._sessionmaker = sessionmaker
        self._rt = rt
        self._loop = RepeatingTask(
            self._run_and_log,
            interval=rt.settings.expiry_interval_seconds or 1.0,
            name="transfer-expiry",
            failure_event="payments.transfer.expiry_failed",
            wait_first=True,
        )

    async def run_once(self) -> int:
        """Release what is due now, a batch per transaction; how many transfers were released."""
        total = 0
        while True:
            async with self._sessionmaker() as session, session.begin():
                released = await transfer_service.expire_due(session, rt=self._rt)
            total += released
            if released == 0:
                return total

    async def _run_and_log(self) -> None:
        if released := await self.run_once():
            log.info("payments.transfer.expiry_ran", released=released)

    def start(self) -> None:
        if self._rt.settings.expiry_interval_seconds > 0:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

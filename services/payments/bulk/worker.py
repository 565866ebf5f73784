"""The background job that pays batches: a chunk per transaction until each batch is done, in every process.

Tests call `run_once`; in a running service a timer does (every `bulk_interval_seconds`). A batch interrupted by a
crash is simply found again: its cursor says where to go on.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.tasks import RepeatingTask
from services.payments.bulk.repository import BulkRepository
from services.payments.bulk.service import bulk as bulk_service
from services.payments.deps import Runtime

log = structlog.get_logger(__name__)


class BulkWorker:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], rt: Runtime) -> None:
        self._sessionmaker = sessionmaker
        self._rt = rt
        self._loop = RepeatingTask(
            self.run_once,
            interval=rt.settings.bulk_interval_seconds or 1.0,
            name="bulk-worker",
            failure_event="payments.bulk.worker_failed",
        )

    async def run_once(self, *, max_chunks: int | None = None) -> int:
        """Run chunks of every runnable batch until none is left (or `max_chunks`); how many chunks ran."""
        chunks = 0
        async with self._sessionmaker() as session:
            batch_ids = await BulkRepository.from_session(session).runnable()
        for batch_id in batch_ids:
            more = True
            while more:
                if max_chunks is not None and chunks >= max_chunks:
                    return chunks
                async with self._sessionmaker() as session, session.begin():
                    more = await bulk_service.run_chunk(session, batch_id, rt=self._rt)
                chunks += 1
        return chunks

    def wake(self) -> None:
        self._loop.wake()

    def start(self) -> None:
        if self._rt.settings.bulk_interval_seconds > 0:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

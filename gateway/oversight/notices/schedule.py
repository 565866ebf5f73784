"""The notice timer in every gateway process: read the audit log for new releases, send what is due, and mark
breaches whose deadline passed with someone not told. Woken at once when a release or a breach is recorded; tests
call `run_once()` on the injectable clock instead of waiting."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.audit.events import AppendedEvent, AuditEvent
from gateway.audit.log import AuditLog
from gateway.oversight.breaches.service import BreachRuntime
from gateway.oversight.breaches.service import breach as breach_service
from gateway.oversight.notices.service import SEND_BATCH, NoticeRound, NoticeRuntime, releases_data
from gateway.oversight.notices.service import notices as notice_service
from services.common.outbox import Outbox
from services.common.tasks import RepeatingTask


class NoticeTimer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        notices: NoticeRuntime,
        *,
        outbox: Outbox,
        notify_within: timedelta,
        interval_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._rt = BreachRuntime(
            notices=notices, outbox=outbox, notify_within=notify_within, wake=self.wake, sessionmaker=sessionmaker
        )
        self._loop = RepeatingTask(
            self.run_once,
            interval=interval_seconds,
            name="subject-notices",
            failure_event="gateway.notice.round_failed",
        )

    @property
    def runtime(self) -> BreachRuntime:
        return self._rt

    async def run_once(self) -> NoticeRound:
        """One round: new releases become notices, due notices go out, missed breach deadlines are marked."""
        rt = self._rt.notices
        result = NoticeRound()
        async with self._sessionmaker() as session, session.begin():
            result.written = await notice_service.collect(session, rt=rt)
        while True:
            async with self._sessionmaker() as session, session.begin():
                claimed = await notice_service.claim(session, rt=rt)
            for notice_id in claimed:
                await notice_service.send(self._sessionmaker, notice_id, rt=rt, into=result)
            if len(claimed) < SEND_BATCH or result.retrying:
                break
        async with self._sessionmaker() as session, session.begin():
            missed = await breach_service.mark_missed_deadlines(session, rt=self._rt)
        if result.breach_notices or missed:
            await rt.audit.append_many([*result.breach_notices, *missed])
        return result

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()


class WakingAudit:
    """The audit sink the proxy appends to: the log itself, and a nudge to the notice timer when an event released
    a person's data, so the notice goes out within moments without the caller waiting for it."""

    def __init__(self, audit: AuditLog, timer: NoticeTimer) -> None:
        self._audit = audit
        self._timer = timer

    async def append(self, event: AuditEvent) -> AppendedEvent:
        appended = await self._audit.append(event)
        if releases_data(event.model_dump()):
            self._timer.wake()
        return appended

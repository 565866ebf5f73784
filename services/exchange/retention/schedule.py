"""What drives the purge: a timer on the injectable clock, and the consent service's revoked / expired events.

The events arrive at least once (the bus redelivers); handling one twice changes nothing, since the earlier end of
retention wins. A malformed event is logged and dropped, never retried for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from services.common.bus import Event
from services.common.clock import Instant
from services.common.tasks import RepeatingTask
from services.exchange.deps import Runtime
from services.exchange.retention.service import retention

log = structlog.get_logger(__name__)
CONSENT_REVOKED = "consent.revoked"
CONSENT_EXPIRED = "consent.expired"


class ConsentEnded(BaseModel):
    """The part of the consent service's event the exchange needs."""

    consent_id: str
    at: Instant
    data_life_until: Instant | None = None


async def purge_all(app: FastAPI) -> int:
    rt: Runtime = app.state.exchange
    total = 0
    while True:
        async with app.state.sessionmaker() as session, session.begin():
            purged = await retention.purge(session, rt=rt)
        total += purged
        if purged == 0:
            break
    if total:
        log.info("exchange.payloads_purged", count=total)
        app.state.relay.notify()
    return total


def consent_handler(app: FastAPI, wake: RepeatingTask) -> object:
    async def handle(event: Event) -> None:
        rt: Runtime = app.state.exchange
        try:
            ended = ConsentEnded.model_validate(event.payload)
        except ValidationError:
            log.warning("exchange.consent_event_malformed", subject=event.subject, msg_id=event.msg_id)
            return
        if event.subject == CONSENT_REVOKED:
            ends_at: datetime = ended.at + timedelta(seconds=rt.settings.retention_grace_seconds)
            reason = "consent_revoked"
        else:
            ends_at, reason = ended.data_life_until or ended.at, "consent_expired"
        async with app.state.sessionmaker() as session, session.begin():
            await retention.consent_ended(session, consent_id=ended.consent_id, ends_at=ends_at, reason=reason)
        wake.wake()

    return handle


@asynccontextmanager
async def retention_lifespan(app: FastAPI) -> AsyncIterator[None]:
    rt: Runtime = app.state.exchange
    interval = rt.settings.purge_interval_seconds
    timer = RepeatingTask(
        lambda: purge_all(app),
        interval=interval or 3600,
        name="exchange-purge",
        failure_event="exchange.purge_failed",
        wait_first=True,
    )
    handler = consent_handler(app, timer)
    for subject in (CONSENT_REVOKED, CONSENT_EXPIRED):
        await app.state.bus.subscribe(subject, handler)
    if interval:
        timer.start()
    try:
        yield
    finally:
        await timer.stop()

"""One callback of a USSD aggregator: find or open the menu session, time it out on the gateway's clock, let the
menu take the new inputs, and store where the person now is.

The session row is read and written in two short transactions; the menu's calls (identity, consent, the audit log)
happen between them, holding no database connection. If two callbacks for the same step race, the second one's
write finds the row moved on and its answer is a hang-up, not a second reading of the same inputs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.caller import AuthenticatedCaller
from gateway.channels.people import PersonChannel
from gateway.channels.ussd import texts
from gateway.channels.ussd.menu import UssdMenu
from gateway.channels.ussd.models import UssdSession
from gateway.channels.ussd.repository import UssdSessionRepository
from gateway.channels.ussd.schemas import UssdCallback
from gateway.channels.ussd.texts import Screen, end

log = structlog.get_logger(__name__)
KEEP_ENDED = timedelta(days=1)  # ended and idle sessions are deleted a day on, as new ones open


async def respond(app: FastAPI, actor: AuthenticatedCaller, callback: UssdCallback) -> Screen:
    now = app.state.clock.now()
    menu = UssdMenu(PersonChannel(app, "ussd"), timedelta(seconds=app.state.settings.ussd_session_timeout_seconds))
    session: AsyncSession
    async with app.state.sessionmaker() as session, session.begin():
        repository = UssdSessionRepository.from_session(session)
        row = await repository.get((actor.client_id, callback.session_id))
        if row is not None and menu.expired(row, now):
            await repository.update_where(
                UssdSession.client_id == row.client_id,
                UssdSession.session_id == row.session_id,
                values={"state": "ended", "sub": None, "confirmation": None, "data": {}, "last_seen_at": now},
            )
            log.info("gateway.ussd.session_timed_out")
            return end(texts.text(row.language, texts.EXPIRED))
        if row is not None:
            session.expunge(row)
    if row is None:
        row = await _opened(app, actor, callback, now)
    seen_before = row.inputs_seen
    row.data = dict(row.data)
    screen = await menu.answer(row, callback.inputs, actor)
    row.last_seen_at = now
    async with app.state.sessionmaker() as session, session.begin():
        if not await UssdSessionRepository.from_session(session).save(row, seen_before=seen_before):
            return end(texts.text(row.language, texts.EXPIRED))
    return screen


async def _opened(app: FastAPI, actor: AuthenticatedCaller, callback: UssdCallback, now: datetime) -> UssdSession:
    values: dict[str, Any] = {
        "client_id": actor.client_id, "session_id": callback.session_id, "state": "language", "language": None,
        "inputs_seen": 0, "data": {}, "sub": None, "confirmation": None, "started_at": now, "last_seen_at": now,
    }  # fmt: skip
    session: AsyncSession
    try:
        async with app.state.sessionmaker() as session, session.begin():
            await UssdSessionRepository.from_session(session).forget_before(now - KEEP_ENDED)
            session.add(UssdSession(**values))
    except IntegrityError:  # the aggregator's first callback arrived twice: the other one opened it
        async with app.state.sessionmaker() as session:
            found = await UssdSessionRepository.from_session(session).get((actor.client_id, callback.session_id))
            assert found is not None
            session.expunge(found)
            return found
    return UssdSession(**values)

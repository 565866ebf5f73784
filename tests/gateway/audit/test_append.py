"""Appending to the audit log: every event gets the next index, durably, and stored events cannot be changed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.app import AUDIT_TABLES
from tests.gateway.audit.conftest import make_event


@pytest.mark.rule("SG-AUDIT-1")
async def test_concurrent_appends_get_gap_free_unique_indexes(gateway_app):
    audit = gateway_app.app.state.audit
    appended = await asyncio.gather(*(audit.append(make_event(request_id=f"r{i}")) for i in range(300)))
    assert sorted(a.index for a in appended) == list(range(300))
    assert len({a.event_id for a in appended}) == 300
    async with gateway_app.app.state.engine.connect() as conn:
        stored = (await conn.execute(select(func.count()).select_from(AUDIT_TABLES.events))).scalar_one()
        head = (await conn.execute(select(AUDIT_TABLES.head.c.size))).scalar_one()
    assert stored == head == 300


@pytest.mark.rule("SG-AUDIT-1")
@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"])
async def test_the_database_refuses_to_change_stored_events(gateway_app, statement):
    await gateway_app.app.state.audit.append(make_event())
    with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
        async with gateway_app.app.state.engine.begin() as conn:
            await conn.execute(text(statement))
    async with gateway_app.app.state.engine.connect() as conn:
        actor = (await conn.execute(select(AUDIT_TABLES.events.c.actor))).scalar_one()
    assert actor == "bank-1"


async def test_a_taken_event_id_fails_only_its_own_append(gateway_app):
    audit = gateway_app.app.state.audit
    first = await audit.append(make_event(event_id="evt_fixed"))
    outcomes = await asyncio.gather(
        *(audit.append(make_event(request_id=f"r{i}")) for i in range(20)),
        audit.append(make_event(event_id="evt_fixed")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[-1], IntegrityError)
    good = [o.index for o in outcomes[:-1] if not isinstance(o, BaseException)]
    assert sorted(good) == list(range(1, 21))  # the others in its batch were recorded, gap-free
    assert first.event_id == "evt_fixed" and first.index == 0

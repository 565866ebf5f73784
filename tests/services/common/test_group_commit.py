"""Group commit: appends of read-only requests share transactions; every request still answers after its commit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from services.common.group_commit import Append, GroupCommit, append, take_group_appends


def _event(event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "subject": "test.group_commit",
        "payload": {"n": 1},
        "created_at": None,
        "attempts": 0,
    }


async def _events(app: Any) -> set[str]:
    table = app.state.outbox.table
    async with app.state.sessionmaker() as session:
        return set((await session.scalars(select(table.c.id).where(table.c.subject == "test.group_commit"))).all())


def _row(app: Any, event_id: str | None = None) -> dict[str, Any]:
    return {**_event(event_id), "created_at": app.state.clock.now()}


async def test_concurrent_writers_share_one_transaction_and_each_returns_after_it(service_factory):
    svc = await service_factory("identity")
    table = svc.app.state.outbox.table
    group = GroupCommit(svc.app.state.engine, writers=1)
    group.start()
    rows = [_row(svc.app) for _ in range(10)]

    await asyncio.gather(*(group.write([Append(table, row)]) for row in rows))

    assert (group.batches, group.requests) == (1, 10)
    assert await _events(svc.app) == {row["id"] for row in rows}
    await group.stop()


async def test_a_request_whose_row_fails_fails_alone(service_factory):
    svc = await service_factory("identity")
    table = svc.app.state.outbox.table
    taken = _row(svc.app)
    async with svc.app.state.engine.begin() as connection:
        await connection.execute(insert(table), taken)
    group = GroupCommit(svc.app.state.engine, writers=1)
    group.start()
    good = [_row(svc.app), _row(svc.app)]

    outcomes = await asyncio.gather(
        group.write([Append(table, good[0])]),
        group.write([Append(table, _row(svc.app, taken["id"]))]),  # the same primary key again
        group.write([Append(table, good[1])]),
        return_exceptions=True,
    )

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert await _events(svc.app) == {taken["id"], good[0]["id"], good[1]["id"]}
    await group.stop()


async def test_appends_of_a_session_that_wrote_commit_or_roll_back_with_it(service_factory):
    svc = await service_factory("identity")
    table = svc.app.state.outbox.table
    kept, dropped = _row(svc.app), _row(svc.app)
    for row, commit in ((kept, True), (dropped, False)):
        async with svc.app.state.sessionmaker() as session:
            await session.execute(insert(table), {**_row(svc.app), "subject": "test.other_write"})
            append(session, table, row)
            assert take_group_appends(session) == []  # it wrote: its appends stay in its own transaction
            await (session.commit() if commit else session.rollback())

    assert await _events(svc.app) == {kept["id"]}


async def test_appends_of_a_rolled_back_savepoint_are_dropped_and_the_rest_kept(service_factory):
    svc = await service_factory("identity")
    table = svc.app.state.outbox.table
    before, inside = _row(svc.app), _row(svc.app)
    async with svc.app.state.sessionmaker() as session:
        append(session, table, before)
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                append(session, table, inside)
                raise RuntimeError("undo the savepoint")
        await session.commit()

    assert await _events(svc.app) == {before["id"]}


async def test_a_read_only_session_hands_its_appends_over(service_factory):
    svc = await service_factory("identity")
    table = svc.app.state.outbox.table
    row = _row(svc.app)
    async with svc.app.state.sessionmaker() as session:
        await session.execute(select(func.count()).select_from(table))
        append(session, table, row)
        handed = take_group_appends(session)
        await session.commit()
    assert [a.row["id"] for a in handed] == [row["id"]]
    assert await _events(svc.app) == set()  # the caller writes them now, not the session
    await svc.app.state.group_commit.write(handed)
    assert await _events(svc.app) == {row["id"]}

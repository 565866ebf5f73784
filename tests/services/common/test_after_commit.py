"""`after_commit`: what a request announces runs once its session committed (the change readable by anyone by then),
before the answer leaves, once however often it was registered, and never for a request that rolled back."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.common.db import after_commit, create_engine, create_sessionmaker, get_session
from services.common.problems import ProblemError

metadata = MetaData()
notes = Table("notes", metadata, Column("id", String(16), primary_key=True))


class Held(ProblemError):
    status = 409
    title = "Held"
    type_slug = "probe/held"
    code = "probe.held"
    commit_before_raise = True


@pytest.fixture
async def sessions(tmp_path: Path) -> Any:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


def _request(sessions: async_sessionmaker[Any]) -> Any:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(sessionmaker=sessions)))


async def _writing(sessions: async_sessionmaker[Any], announce: Any) -> Any:
    """A request's session (`get_session`) that wrote a note and registered `announce`: the generator, to go on."""
    requests = get_session(_request(sessions))
    session = await anext(requests)
    await session.execute(insert(notes).values(id="n1"))
    after_commit(session, announce)
    return requests


async def _stored(sessions: async_sessionmaker[Any]) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(notes.c.id))).all())


async def test_an_announcement_runs_once_after_the_commit(sessions: async_sessionmaker[Any]) -> None:
    seen: list[list[str]] = []

    async def announce() -> None:
        seen.append(await _stored(sessions))  # another session: what anyone could read by then

    requests = get_session(_request(sessions))
    session = await anext(requests)
    await session.execute(insert(notes).values(id="n1"))
    after_commit(session, announce)
    after_commit(session, announce)
    assert seen == []
    with pytest.raises(StopAsyncIteration):
        await anext(requests)
    assert seen == [["n1"]]


async def test_a_refusal_committed_first_is_announced_too(sessions: async_sessionmaker[Any]) -> None:
    seen: list[list[str]] = []

    async def announce() -> None:
        seen.append(await _stored(sessions))

    requests = await _writing(sessions, announce)
    with pytest.raises(Held):
        await requests.athrow(Held("kept, then refused"))
    assert seen == [["n1"]]


async def test_an_announcement_that_fails_leaves_the_change_committed(sessions: async_sessionmaker[Any]) -> None:
    async def unreachable() -> None:
        raise ConnectionError("nobody to tell")

    requests = await _writing(sessions, unreachable)
    with pytest.raises(ConnectionError):
        await anext(requests)
    assert await _stored(sessions) == ["n1"]


class Refused(ProblemError):
    status = 409
    title = "Refused"
    type_slug = "probe/refused"
    code = "probe.refused"


@pytest.mark.parametrize(
    "failure", [RuntimeError("the handler failed"), Refused("nothing kept")], ids=["an error", "an unmarked refusal"]
)
async def test_a_request_that_rolls_back_announces_nothing(
    sessions: async_sessionmaker[Any], failure: Exception
) -> None:
    seen: list[str] = []

    async def announce() -> None:
        seen.append("announced")

    requests = await _writing(sessions, announce)
    with pytest.raises(type(failure)):
        await requests.athrow(failure)
    assert seen == [] and await _stored(sessions) == []


async def test_one_announcer_registered_by_several_writes_runs_once(sessions: async_sessionmaker[Any]) -> None:
    """A service registers its bound method at each write (`rt.directory.changed`): a new object each time, equal."""

    class Cache:
        def __init__(self) -> None:
            self.told = 0

        async def changed(self) -> None:
            self.told += 1

    cache = Cache()
    requests = get_session(_request(sessions))
    session = await anext(requests)
    for _ in range(3):
        await session.execute(insert(notes).values(id=f"n{cache.told}{_}"))
        after_commit(session, cache.changed)
    with pytest.raises(StopAsyncIteration):
        await anext(requests)
    assert cache.told == 1


async def test_every_announcement_runs_though_one_fails(sessions: async_sessionmaker[Any]) -> None:
    seen: list[str] = []

    async def failing() -> None:
        raise ConnectionError("nobody to tell")

    async def other() -> None:
        seen.append("told")

    requests = get_session(_request(sessions))
    session = await anext(requests)
    await session.execute(insert(notes).values(id="n1"))
    after_commit(session, failing)
    after_commit(session, other)
    with pytest.raises(ConnectionError):
        await anext(requests)
    assert seen == ["told"]


async def test_a_session_that_no_request_commits_cannot_announce(sessions: async_sessionmaker[Any]) -> None:
    async def announce() -> None:
        raise AssertionError("never run")

    async with sessions() as session:
        with pytest.raises(RuntimeError, match="request's session"):
            after_commit(session, announce)

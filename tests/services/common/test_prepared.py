"""Statements run as asyncpg prepared statements (services.common.db.fetch_prepared, fetch_prepared_many,
prepared_transaction): the same rows and conversions as SQLAlchemy's, driver errors as SQLAlchemy's, and a
transaction of their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import JSON, Column, Integer, String, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import (
    HeldConnection,
    UTCDateTime,
    autocommit_connection,
    fetch_prepared,
    fetch_prepared_many,
    fetch_prepared_pooled,
    is_unique_violation,
    new_metadata,
    prepared_transaction,
)
from tests.conftest import engine_on

metadata = new_metadata()
things = Table(
    "things",
    metadata,
    Column("id", String(8), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("facts", JSON, nullable=True),
    Column("at", UTCDateTime(), nullable=False),
)
_INSERT = insert(things).returning(things.c.id, things.c.at)
_GET = select(things.c.id, things.c.count, things.c.facts, things.c.at).where(things.c.id == bindparam("id"))
_BUMP = (
    update(things).where(things.c.id == bindparam("thing")).values(count=things.c.count + 1).returning(things.c.count)
)


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with engine_on(database_url, tmp_path, metadata, "prepared") as engine:
        yield engine


async def test_rows_and_conversions_are_sqlalchemys(engine: AsyncEngine) -> None:
    at = datetime(2026, 12, 1, 14, 0, tzinfo=timezone(timedelta(hours=3)))
    async with autocommit_connection(engine, autocommit=False) as connection:
        values = {"id": "a", "count": 1, "facts": {"k": [1, "x"]}, "at": at}
        inserted = await fetch_prepared(connection, _INSERT, values)
        assert inserted[0].id == "a" and inserted[0].at == at and inserted[0].at.tzinfo == UTC
        assert (await fetch_prepared(connection, _BUMP, {"thing": "a"}))[0].count == 2
        assert await fetch_prepared(connection, _GET, {"id": "none"}) == []
    async with engine.connect() as connection:
        by_sqlalchemy = (await connection.execute(_GET, {"id": "a"})).one()
    async with autocommit_connection(engine, autocommit=False) as connection:
        row = (await fetch_prepared(connection, _GET, {"id": "a"}))[0]
    assert (row.id, row.count, row.facts, row.at) == tuple(by_sqlalchemy) == ("a", 2, {"k": [1, "x"]}, at)


async def test_a_driver_error_is_sqlalchemys_and_the_connection_is_not_reused(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL")
    now = datetime.now(UTC)
    async with autocommit_connection(engine, autocommit=False) as connection:
        with pytest.raises(DBAPIError) as raised:
            await fetch_prepared(connection, _INSERT, {"id": "too-long-an-id", "count": 1, "facts": None, "at": now})
    assert str(getattr(raised.value.orig, "sqlstate", "")).startswith("22")  # a data exception: answered as 422
    assert "too-long-an-id" not in str(raised.value)
    async with autocommit_connection(engine, autocommit=False) as connection:
        assert await fetch_prepared(connection, _INSERT, {"id": "b", "count": 1, "facts": None, "at": now})


async def test_a_prepared_transaction_commits_at_the_end_and_undoes_on_request_or_error(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        with pytest.raises(RuntimeError):
            async with prepared_transaction(engine):
                pass
        return
    now = datetime.now(UTC)
    async with prepared_transaction(engine) as transaction:
        await transaction.fetch(_INSERT, {"id": "kept", "count": 0, "facts": None, "at": now})
        await transaction.fetch(_BUMP, {"thing": "kept"})
    async with prepared_transaction(engine) as transaction:
        await transaction.fetch(_INSERT, {"id": "undone", "count": 0, "facts": None, "at": now})
        transaction.rollback_only()
    with pytest.raises(ValueError, match="undo"):
        async with prepared_transaction(engine) as transaction:
            await transaction.fetch(_BUMP, {"thing": "kept"})
            raise ValueError("undo")
    async with engine.connect() as connection:
        rows = (await connection.execute(select(things.c.id, things.c.count).order_by(things.c.id))).all()
    assert [tuple(row) for row in rows] == [("kept", 1)]


async def test_a_server_error_of_an_autocommitted_statement_leaves_the_pooled_connection_in_use(
    engine: AsyncEngine,
) -> None:
    """A unique violation of an autocommitted statement is an answer like any other: the connection stays pooled
    (a hot path whose one statement meets a taken key must not cost a reconnection), and the error says what it is."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL")
    now = datetime.now(UTC)
    backend = select(func.pg_backend_pid().label("pid"))
    engine.pool.dispose()  # one connection in the pool from here on
    pid = (await fetch_prepared_pooled(engine, backend, {}))[0].pid
    assert await fetch_prepared_pooled(engine, _INSERT, {"id": "a", "count": 1, "facts": None, "at": now})
    with pytest.raises(DBAPIError) as raised:
        await fetch_prepared_pooled(engine, _INSERT, {"id": "a", "count": 2, "facts": None, "at": now})
    assert is_unique_violation(raised.value)
    assert (await fetch_prepared_pooled(engine, backend, {}))[0].pid == pid
    with pytest.raises(DBAPIError) as data_error:
        await fetch_prepared_pooled(engine, _INSERT, {"id": "too-long-an-id", "count": 1, "facts": None, "at": now})
    assert not is_unique_violation(data_error.value)


async def test_many_runs_go_in_one_transaction_see_each_other_and_fail_together(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    inserted = await fetch_prepared_many(
        engine, _INSERT, [{"id": name, "count": 0, "facts": None, "at": now} for name in ("a", "b")]
    )
    assert [row.id for row in inserted] == ["a", "b"]
    bumped = await fetch_prepared_many(engine, _BUMP, [{"thing": "a"}, {"thing": "none"}, {"thing": "a"}])
    assert [row.count for row in bumped] == [1, 2]  # the second run on "a" saw the first's change
    if engine.dialect.name != "postgresql":
        return
    with pytest.raises(DBAPIError) as raised:
        await fetch_prepared_many(engine, _BUMP, [{"thing": "a"}, {"thing": "b"}, {"thing": "\x00"}])
    assert str(getattr(raised.value.orig, "sqlstate", "")).startswith("22")
    async with engine.connect() as connection:
        rows = (await connection.execute(select(things.c.id, things.c.count).order_by(things.c.id))).all()
    assert [tuple(row) for row in rows] == [("a", 2), ("b", 0)]  # all or nothing: the failed group changed nothing


async def test_a_held_connection_is_kept_between_statements_and_replaced_after_it_dies(engine: AsyncEngine) -> None:
    """`HeldConnection`: `fetch` and `transaction` as `fetch_prepared_pooled` and `prepared_transaction`, on one
    connection kept checked out between them; an answered error leaves it held, a dead connection is let go and the
    next use takes a fresh one, and `release` gives it back to the pool."""
    if engine.dialect.name != "postgresql":
        with pytest.raises(RuntimeError):
            HeldConnection(engine)
        return
    now = datetime.now(UTC)
    backend = select(func.pg_backend_pid().label("pid"))
    held = HeldConnection(engine)
    pid = (await held.fetch(backend, {}))[0].pid
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert await held.fetch(_INSERT, {"id": "a", "count": 1, "facts": None, "at": now})
    with pytest.raises(DBAPIError) as raised:
        await held.fetch(_INSERT, {"id": "a", "count": 2, "facts": None, "at": now})
    assert is_unique_violation(raised.value)
    async with held.transaction() as transaction:
        assert (await transaction.fetch(_BUMP, {"thing": "a"}))[0].count == 2
    async with held.transaction() as transaction:
        await transaction.fetch(_BUMP, {"thing": "a"})
        transaction.rollback_only()
    assert (await held.fetch(backend, {}))[0].pid == pid  # the same connection all along
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises((DBAPIError, asyncpg.InterfaceError, asyncpg.InternalClientError)):  # the driver's word
        await held.fetch(_BUMP, {"thing": "a"})
    assert (await held.fetch(_BUMP, {"thing": "a"}))[0].count == 3  # on a fresh connection
    assert (await held.fetch(backend, {}))[0].pid != pid
    await held.release()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_held_connection_serves_one_user_at_a_time(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL")
    held = HeldConnection(engine)
    try:
        async with held.transaction() as transaction:
            with pytest.raises(RuntimeError, match="one user at a time"):
                await held.fetch(select(func.pg_backend_pid().label("pid")), {})
            transaction.rollback_only()
    finally:
        await held.release()


async def test_a_failure_inside_a_held_transaction_undoes_it_and_nothing_runs_outside_it(engine: AsyncEngine) -> None:
    """A statement that fails inside `transaction()` lets the connection go: the transaction is undone, a further
    statement of the same block is refused rather than run (and committed) on a fresh connection, and the next use
    after the block commits as it should, on a fresh connection."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL")
    now = datetime.now(UTC)
    backend = select(func.pg_backend_pid().label("pid"))
    held = HeldConnection(engine)
    pid = (await held.fetch(backend, {}))[0].pid
    with pytest.raises(ValueError, match="undo"):
        async with held.transaction() as transaction:
            await transaction.fetch(_INSERT, {"id": "undone", "count": 0, "facts": None, "at": now})
            raise ValueError("undo")
    assert (await held.fetch(backend, {}))[0].pid != pid
    with pytest.raises(RuntimeError, match="lost inside its transaction"):
        async with held.transaction() as transaction:
            await transaction.fetch(_INSERT, {"id": "in", "count": 0, "facts": None, "at": now})
            with pytest.raises(DBAPIError):
                await transaction.fetch(_INSERT, {"id": "in", "count": 0, "facts": None, "at": now})
            await transaction.fetch(_INSERT, {"id": "outside", "count": 0, "facts": None, "at": now})
    assert await held.fetch(_INSERT, {"id": "after", "count": 0, "facts": None, "at": now})
    await held.release()
    async with engine.connect() as connection:
        rows = (await connection.execute(select(things.c.id).order_by(things.c.id))).scalars().all()
    assert rows == ["after"]


async def test_a_held_connection_of_an_ended_event_loop_is_replaced(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL")
    backend = select(func.pg_backend_pid().label("pid"))
    held = HeldConnection(engine)
    pid = (await held.fetch(backend, {}))[0].pid

    async def elsewhere() -> int:
        return int((await held.fetch(backend, {}))[0].pid)

    other = await asyncio.to_thread(asyncio.run, elsewhere())  # another event loop, ended when it returns
    assert other != pid
    assert (await held.fetch(backend, {}))[0].pid not in (pid, other)
    await held.release()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]

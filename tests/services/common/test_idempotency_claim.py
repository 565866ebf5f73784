"""The first claim of an Idempotency-Key (one prepared INSERT; on PostgreSQL committed without waiting for its WAL
flush): claimed once, in flight for everyone else at once, and the pooled connection it ran on left as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import FrozenClock
from services.common.db import new_metadata
from services.common.idempotency import IdempotencyInProgress, IdempotencyKeyReused, IdempotencyStore, Scope
from services.common.idempotency import idempotency_table as make_table
from tests.conftest import engine_on

metadata = new_metadata()
table = make_table(metadata)


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with engine_on(database_url, tmp_path, metadata, "claims") as engine:
        yield engine


async def test_a_key_is_claimed_once_and_the_connection_commits_synchronously_after(engine: AsyncEngine) -> None:
    store = IdempotencyStore(engine, table, FrozenClock())
    scope = Scope(client_id="c", route="POST /v1/things", key="k-1")
    assert isinstance(await store.claim(scope, "fp"), str)
    with pytest.raises(IdempotencyInProgress):
        await store.claim(scope, "fp")
    with pytest.raises(IdempotencyKeyReused):
        await store.claim(scope, "another request")
    async with engine.connect() as connection:
        rows = (
            await connection.execute(text("SELECT state, status_code, headers, body FROM idempotency_records"))
        ).all()
        assert [tuple(row) for row in rows] == [("in_flight", None, None, None)]
        if engine.dialect.name == "postgresql":  # the claim's asynchronous commit was its own, not the pool's
            assert (await connection.execute(text("SHOW synchronous_commit"))).scalar_one() == "on"

"""A second baseline for HTTP rows that write: the least a durable request can do with this stack on this machine.

`POST /floor` reads one row by a unique key from a table of a million and inserts one row, in one committed
transaction, through FastAPI, SQLAlchemy's async session and asyncpg, with no assertion, validation beyond a one-field
body, or domain logic. Any endpoint that must read a record and durably write a history entry (an authentication,
say) costs at least this; the gap between this row and the bare GET is what the database round trips and the
commit cost, and the gap between this row and a service's row is what the service itself adds.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks._common import drop_postgres_schema
from services.common.db import UTCDateTime, create_all, create_engine, create_sessionmaker
from services.common.ids import new_id

SCHEMA = "bench_floor"
ROWS = 1_000_000
_metadata = MetaData()
people = Table("people", _metadata, Column("id", String(40), primary_key=True), Column("sub", String(40), unique=True))
events = Table(
    "events",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("person_id", String(40), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
)
_FIND = select(people.c.id).where(people.c.sub == bindparam("sub"))
_RECORD = insert(events)


class FloorRequest(BaseModel):
    sub: str


async def prepare(url: str, rows: int = ROWS, schema: str = SCHEMA) -> None:
    """(Re)build the schema: `rows` people (made by the server itself, in seconds) and no events. A script that may
    run beside others on one machine names its own schema (and passes it to the app as DPI_BENCH_FLOOR_SCHEMA)."""
    await drop_postgres_schema(schema, url)
    engine = create_engine(url, schema=schema)
    await create_all(engine, _metadata, schema)
    async with engine.begin() as conn:
        await conn.execute(
            text(f"INSERT INTO people SELECT 'per_' || g, 'sub_' || g FROM generate_series(1, {rows}) AS g")
        )
        await conn.execute(text("ANALYZE people"))
    await engine.dispose()


def floor_app() -> FastAPI:
    """The uvicorn factory: reads the database URL from DPI_BENCH_FLOOR_URL (and the schema from
    DPI_BENCH_FLOOR_SCHEMA, by default bench_floor)."""
    schema = os.environ.get("DPI_BENCH_FLOOR_SCHEMA", SCHEMA)
    engine: AsyncEngine = create_engine(os.environ["DPI_BENCH_FLOOR_URL"], schema=schema)
    sessionmaker = create_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/floor")
    async def floor(body: FloorRequest) -> dict[str, Any]:
        async with sessionmaker() as session, session.begin():
            person_id = (await session.execute(_FIND, {"sub": body.sub})).scalar_one()
            event = {"id": new_id("evt"), "person_id": person_id, "occurred_at": datetime.now(UTC)}
            await session.execute(_RECORD, event)
        return {"recorded": True}

    return app

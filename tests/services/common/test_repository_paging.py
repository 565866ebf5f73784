"""Repository base, keyset paging and the column types, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.columns import EnumColumn, Id, Timestamped
from services.common.db import create_sessionmaker, new_metadata
from services.common.ids import new_id
from services.common.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    PageParams,
    PageRequest,
    decode_cursor,
    encode_cursor,
)
from services.common.problems import install_problem_handlers
from services.common.repository import Repository
from tests.conftest import engine_on

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


class Colour(StrEnum):
    red = "red"
    green = "green"


class Widget(Timestamped, Base):
    __tablename__ = "widgets"

    id: Mapped[Id] = mapped_column(primary_key=True)
    owner: Mapped[Id]
    colour: Mapped[Colour] = mapped_column(EnumColumn(Colour))
    uses: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(40))


class WidgetRepository(Repository[Widget]):
    model = Widget


NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with engine_on(database_url, tmp_path, metadata, "paging") as engine:
        yield engine


async def _add(session: AsyncSession, n: int, *, colour: Colour = Colour.red) -> list[Widget]:
    widgets = [
        Widget(id=new_id("wdg"), owner="o", colour=colour, label=f"w{i}", created_at=NOW, updated_at=NOW)
        for i in range(n)
    ]
    session.add_all(widgets)
    await session.flush()
    return widgets


class TestColumns:
    async def test_enum_values_round_trip_as_members_and_ids_and_times_fit(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session, session.begin():
            [widget] = await _add(session, 1, colour=Colour.green)
        async with create_sessionmaker(engine)() as session:
            loaded = await WidgetRepository.from_session(session).get(widget.id)
            assert loaded is not None
            assert loaded.colour is Colour.green
            assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None
            stored = (await session.execute(text("SELECT colour FROM widgets"))).scalar_one()
            assert stored == "green"

    async def test_a_value_that_is_not_a_member_fails_at_the_write(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session:
            session.add(Widget(id="w", owner="o", colour="blue", label="x", created_at=NOW, updated_at=NOW))
            with pytest.raises(StatementError):
                await session.flush()

    def test_columns_render_as_plain_strings(self) -> None:
        table = Widget.__table__
        assert str(table.c.id.type) == "VARCHAR(64)"
        assert table.c.colour.type.impl_instance.length == 16  # type: ignore[attr-defined]


class TestConditionalUpdates:
    async def test_update_where_says_whether_it_applied(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session, session.begin():
            [widget] = await _add(session, 1)
            repository = WidgetRepository.from_session(session)
            applied = [
                await repository.update_where(Widget.id == widget.id, Widget.uses < 2, values={"uses": Widget.uses + 1})
                for _ in range(3)
            ]
            assert applied == [True, True, False]
            row = await repository.update_returning(
                Widget.id == widget.id,
                Widget.uses == 2,
                values={"label": "full"},
                returning=(Widget.label, Widget.uses),
            )
            assert row is not None and tuple(row) == ("full", 2)
            assert (
                await repository.update_returning(Widget.id == "nobody", values={"uses": 0}, returning=[Widget.id])
                is None
            )

    async def test_update_where_refuses_to_touch_more_than_one_row(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session:
            await _add(session, 2)
            with pytest.raises(RuntimeError):
                await WidgetRepository.from_session(session).update_where(Widget.owner == "o", values={"uses": 9})

    @pytest.mark.postgres
    async def test_a_limit_holds_under_40_parallel_transactions(self, engine: AsyncEngine, db_backend: str) -> None:
        if db_backend != "postgresql":
            pytest.skip("parallel transactions: PostgreSQL")
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            [widget] = await _add(session, 1)

        async def use() -> bool:
            async with sessions() as session, session.begin():
                return await WidgetRepository.from_session(session).update_where(
                    Widget.id == widget.id, Widget.uses < 25, values={"uses": Widget.uses + 1}
                )

        results = await asyncio.gather(*(use() for _ in range(40)))
        assert results.count(True) == 25
        async with sessions() as session:
            assert (await session.execute(select(Widget.uses))).scalar_one() == 25


class TestPaging:
    async def test_pages_walk_every_row_once_in_order_both_ways(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session, session.begin():
            ids = sorted(w.id for w in await _add(session, 7))
            repository = WidgetRepository.from_session(session)
            for descending, expected in ((False, ids), (True, ids[::-1])):
                seen: list[str] = []
                request = PageRequest(after=None, limit=3)
                while True:
                    rows = await repository.page(select(Widget), request, descending=descending)
                    page = Page[str].of(rows, request, position=lambda w: w.id, item=lambda w: w.id)
                    seen += page.items
                    if page.next_cursor is None:
                        break
                    request = PageRequest(after=decode_cursor(page.next_cursor), limit=3)
                assert seen == expected

    async def test_joined_rows_come_back_as_rows(self, engine: AsyncEngine) -> None:
        async with create_sessionmaker(engine)() as session, session.begin():
            await _add(session, 2)
            rows = await WidgetRepository.from_session(session).page(
                select(Widget, Widget.label), PageRequest(after=None, limit=5)
            )
            assert [row[1] for row in rows] == sorted(row[1] for row in rows)

    def test_cursors_are_opaque_and_round_trip(self) -> None:
        cursor = encode_cursor("wdg_0196abc")
        assert "wdg" not in cursor
        assert decode_cursor(cursor) == "wdg_0196abc"


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items")
    async def items(paging: PageParams) -> dict[str, object]:
        return {"after": paging.after, "limit": paging.limit}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


class TestPageParams:
    async def test_default_and_maximum_limit(self, api: httpx.AsyncClient) -> None:
        assert (await api.get("/items")).json() == {"after": None, "limit": DEFAULT_LIMIT}
        assert (await api.get("/items", params={"limit": MAX_LIMIT})).json()["limit"] == MAX_LIMIT
        for bad in (0, MAX_LIMIT + 1, "many"):
            assert (await api.get("/items", params={"limit": bad})).status_code == 422

    async def test_a_cursor_it_issued_is_accepted(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/items", params={"cursor": encode_cursor("x_1")})
        assert response.json()["after"] == "x_1"

    @pytest.mark.parametrize(
        "cursor", ["", "!!", "x_1", "Yzo", "A" * 201, encode_cursor("x_1") + "=", "YzE6eF8x\u00e9", "YzI6eF8x"]
    )
    async def test_anything_else_is_a_422_problem_naming_the_cursor(self, api: httpx.AsyncClient, cursor: str) -> None:
        response = await api.get("/items", params={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]

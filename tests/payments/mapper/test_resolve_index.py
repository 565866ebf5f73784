"""On PostgreSQL the one-default index of the links carries the account: a resolve reads the default link from the
index alone (an index-only scan), in the schema the migrations build and in the one the models build alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import make_url, text

from services.common.db import create_engine, prepared
from services.common.migrations import upgrade
from services.payments.app import MIGRATIONS_DIR
from services.payments.bulk.synthetic import load_beneficiaries
from services.payments.mapper.repository import _RESOLVE_ONE
from tests.payments.payments_helpers import PROGRAMME, PaymentsApi

_VISIBLE = text("SELECT relpages, relallvisible FROM pg_class WHERE oid = 'links'::regclass")
_DEFINITION = text("SELECT indexdef FROM pg_indexes WHERE schemaname = :schema AND indexname = 'ix_links_one_default'")


@pytest.fixture
async def database_url(database_url: str) -> AsyncIterator[str]:
    """On PostgreSQL, a database of the test's own. Vacuum marks a page all-visible only once no snapshot that may
    still need an older row remains, and for an ordinary table it counts only the sessions of that table's database:
    in a database of its own, the other tests of a concurrent suite (which all work in one database) cannot hold it
    back, so the index-only scan is a certainty here, not a chance."""
    if database_url == "sqlite":
        yield database_url
        return
    name = f"t_{uuid.uuid4().hex[:12]}_visibility"
    server = create_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await server.dispose()


async def _definition(engine, schema: str) -> str:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return str((await connection.execute(_DEFINITION, {"schema": schema})).scalar_one())


async def test_the_migrations_and_the_models_build_the_same_covering_index(api: PaymentsApi, database_url: str):
    if database_url == "sqlite":
        pytest.skip("SQLite has no INCLUDE; its index is the plain partial one")
    schema = f"m_{uuid.uuid4().hex[:12]}_links"
    migrated = create_engine(database_url, schema=schema)
    try:
        await upgrade(migrated, MIGRATIONS_DIR, schema)
        by_migrations = await _definition(migrated, schema)
    finally:
        async with migrated.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await migrated.dispose()
    settings = api.svc.settings
    by_models = await _definition(api.svc.app.state.engine, settings.resolved_schema)
    assert by_migrations.replace(schema, "S") == by_models.replace(settings.resolved_schema, "S")
    assert "UNIQUE" in by_models and "INCLUDE (account_id)" in by_models and "WHERE is_default" in by_models


async def test_a_resolve_reads_the_default_link_from_the_index_alone(api: PaymentsApi, database_url: str, clock):
    if database_url == "sqlite":
        pytest.skip("an index-only scan of a covering index is PostgreSQL's")
    async with api.svc.app.state.sessionmaker() as session, session.begin():
        # Enough people for the planner to prefer an index to a scan of the table.
        await load_beneficiaries(session, prefix="p", first=0, last=4_999, currency="USD", now=clock.now())
    engine = api.svc.app.state.engine
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        await connection.execute(text("VACUUM (ANALYZE) links"))  # marks the pages all-visible, as autovacuum does
        pages, visible = (await connection.execute(_VISIBLE)).one()
    assert visible == pages, f"vacuum marked {visible} of the {pages} pages all-visible"
    statement = prepared(_RESOLVE_ONE, engine.dialect)
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        plan = "\n".join(row[0] for row in await driver.fetch(f"EXPLAIN {statement.sql}", "sub", "p-77"))
    assert "Index Only Scan using ix_links_one_default on links" in plan, plan
    resolved = await api.call("GET", "/v1/mapper/resolve?ref=p-77", roles=PROGRAMME)
    assert resolved.status_code == 200 and resolved.json()["person_ref"] == "p-77"

"""Every service's Alembic history builds its schema on both backends, and the models match the migrations."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from dpi_sandbox.registry import ALL, entry
from services.common.db import create_engine
from services.common.migrations import current_heads, upgrade
from tests.conftest import _metadata_of


@pytest.fixture
async def fresh_engine(database_url, tmp_path):
    created = []

    async def make(name: str):  # type: ignore[no-untyped-def]
        if database_url == "sqlite":
            engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}")
            schema = None
        else:
            schema = f"m_{uuid.uuid4().hex[:12]}_{name}"
            engine = create_engine(database_url, schema=schema)
        created.append((engine, schema))
        return engine, schema

    yield make
    for engine, schema in created:
        if schema:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


@pytest.mark.parametrize("service", [e.name for e in ALL])
async def test_migrations_reach_head_and_match_the_models(fresh_engine, service):
    engine, schema = await fresh_engine(service)
    migrations_dir = entry(service).migrations_dir
    await upgrade(engine, migrations_dir, schema)
    assert await current_heads(engine), "no alembic version recorded"
    async with engine.connect() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), _metadata_of(service)
            )
        )
    assert differences == [], f"models and migrations of {service} differ; run `dpi-sandbox db revision {service}`"


async def test_upgrade_is_idempotent(fresh_engine):
    engine, schema = await fresh_engine("identity")
    migrations_dir = entry("identity").migrations_dir
    await upgrade(engine, migrations_dir, schema)
    heads = await current_heads(engine)
    await upgrade(engine, migrations_dir, schema)
    assert await current_heads(engine) == heads

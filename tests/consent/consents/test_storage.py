"""The consents table keeps room in each page for a permit's row update (HOT), whether migrated or built from models."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from services.common.db import create_all, create_engine
from services.common.migrations import upgrade
from services.consent.app import MIGRATIONS_DIR
from services.consent.models import metadata


@pytest.mark.parametrize("build", ["migrations", "models"])
async def test_the_consents_table_is_filled_to_80_percent_on_postgresql(database_url, build):
    if database_url == "sqlite":
        pytest.skip("a PostgreSQL storage parameter (SQLite has no fill factor)")
    schema = f"s_{uuid.uuid4().hex[:12]}_consent"
    engine = create_engine(database_url, schema=schema)
    try:
        if build == "migrations":
            await upgrade(engine, MIGRATIONS_DIR, schema)
        else:
            await create_all(engine, metadata, schema)
        async with engine.connect() as connection:
            options = await connection.scalar(
                text("SELECT reloptions FROM pg_class WHERE oid = to_regclass(:name)"), {"name": f"{schema}.consents"}
            )
        assert options == ["fillfactor=80"]
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()

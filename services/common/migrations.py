"""Alembic wired per service: each service has its own migrations folder and its own version table, in its own
database (SQLite file) or schema (PostgreSQL). Migrations are a deploy step (`dpi-sandbox db upgrade`), never run
from app start-up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import create_engine, ensure_schema
from services.common.settings import ServiceSettings


def alembic_config(migrations_dir: Path, url: str, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["schema"] = schema
    return config


async def upgrade(engine: AsyncEngine, migrations_dir: Path, schema: str | None, revision: str = "head") -> None:
    await ensure_schema(engine, schema)
    config = alembic_config(migrations_dir, engine.url.render_as_string(hide_password=False), schema)
    async with engine.begin() as conn:
        await conn.run_sync(_run_with_connection, config, lambda cfg: command.upgrade(cfg, revision))


async def upgrade_service_database(settings: ServiceSettings, migrations_dir: Path) -> None:
    """Apply a service's migrations to the database (and schema) its settings name."""
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    try:
        await upgrade(engine, migrations_dir, settings.resolved_schema)
    finally:
        await engine.dispose()


async def current_heads(engine: AsyncEngine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: set(MigrationContext.configure(sync).get_current_heads()))


def _run_with_connection(connection: Connection, config: Config, action: Any) -> None:
    config.attributes["connection"] = connection
    action(config)


def run_migrations(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection, metadata)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    schema = config.attributes.get("schema")

    async def run_online() -> None:
        engine = create_engine(url, schema=schema)
        await ensure_schema(engine, schema)
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: _configure_and_run(sync, metadata))
        await engine.dispose()

    asyncio.run(run_online())


def _configure_and_run(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        include_schemas=False,
    )
    with context.begin_transaction():
        context.run_migrations()

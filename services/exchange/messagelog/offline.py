"""Reading the message log for the offline verifier: from the exchange's database directly, or from an export file,
with the exchange's public keys from its JWKS file. No service needs to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.common.db import create_engine, table_of
from services.common.keys import read_jwks_file
from services.exchange.config import ExchangeSettings
from services.exchange.messagelog.models import LogEntry, LogHead

Rows = list[dict[str, Any]]
ENTRY_COLUMNS = ("chain", "seq", "record", "entry_hash", "signature")


async def load_from_database(settings: ExchangeSettings) -> tuple[Rows, Rows]:
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    try:
        async with engine.connect() as conn:
            entries_table, heads_table = table_of(LogEntry), table_of(LogHead)
            columns = [entries_table.c[name] for name in ENTRY_COLUMNS]
            entries = [dict(r._mapping) for r in await conn.execute(select(*columns).order_by(entries_table.c.chain))]
            heads = [dict(r._mapping) for r in await conn.execute(select(heads_table))]
    finally:
        await engine.dispose()
    return entries, heads


def load_export(path: Path) -> tuple[Rows, Rows, dict[str, Any]]:
    data = json.loads(path.read_text())
    return list(data["entries"]), list(data["heads"]), dict(data["jwks"])


def published_keys(settings: ExchangeSettings) -> dict[str, Any]:
    return read_jwks_file(settings.resolved_keys_dir / "exchange.jwks.json")

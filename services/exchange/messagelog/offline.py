"""Reading the message log for the offline verifier: from the exchange's database directly, or from an export file,
with the exchange's public keys from its JWKS file. No service needs to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.common.db import create_engine, create_sessionmaker
from services.common.keys import read_jwks_file
from services.exchange.config import ExchangeSettings
from services.exchange.messagelog import reading
from services.exchange.messagelog.verify import Report

Rows = list[dict[str, Any]]


async def verify_database(settings: ExchangeSettings, jwks: dict[str, Any]) -> Report:
    """Verify the log in the exchange's database as the service does (`reading.verify`): one snapshot, a page at a
    time, so a log of any length verifies, even while the exchange appends."""
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await reading.verify(session, jwks)
    finally:
        await engine.dispose()


def load_export(path: Path) -> tuple[Rows, Rows, dict[str, Any]]:
    data = json.loads(path.read_text())
    return list(data["entries"]), list(data["heads"]), dict(data["jwks"])


def published_keys(settings: ExchangeSettings) -> dict[str, Any]:
    return read_jwks_file(settings.resolved_keys_dir / "exchange.jwks.json")

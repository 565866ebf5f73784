"""The exchange service's tables: its own metadata, its own database."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.app import infrastructure_tables
from services.common.db import new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


outbox, seen_assertions, idempotency_records = infrastructure_tables(metadata)

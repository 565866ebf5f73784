"""The gateway's own database: one metadata for every table the gateway keeps (audit log, client registry,
grievances, ...), and the declarative base for those written as ORM models."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.app import infrastructure_tables
from services.common.db import new_metadata

metadata = new_metadata()
outbox, seen_assertions, idempotency_records = infrastructure_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata

"""The gateway's tables: its own metadata, its own database (see gateway/migrations)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.app import infrastructure_tables
from services.common.db import new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


outbox, seen_assertions = infrastructure_tables(metadata)

# Each area's tables join `metadata` on import (they import Base from here, hence the bottom of the file).
import gateway.auth.clients.models  # noqa: E402, F401

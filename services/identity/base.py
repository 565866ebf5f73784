"""The identity service's declarative base and metadata, which every domain's models import.

Kept apart from `services.identity.models` (which imports every domain's models to make the metadata complete), so a
domain's models never import the module that imports them.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.app import infrastructure_tables
from services.common.db import new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


outbox, seen_assertions, idempotency_records = infrastructure_tables(metadata)

"""The exchange service's tables: its own metadata, its own database.

The simulated registries (civil, social) keep their tables in the same database but only their own code touches
them: to the exchange they are providers reached over HTTP, like any other member's information system.
"""

from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from services.common.app import infrastructure_tables
from services.common.db import new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


outbox, seen_assertions, idempotency_records = infrastructure_tables(metadata)
Json = JSON().with_variant(JSONB(), "postgresql")

# Each domain's tables join `metadata` on import (they import Base from here, hence the bottom of the file).
import services.exchange.members.models  # noqa: E402
import services.exchange.messagelog.models  # noqa: E402
import services.exchange.orders.models  # noqa: E402
import services.exchange.population.models  # noqa: E402
import services.exchange.pubsub.models  # noqa: E402
import services.exchange.registries.civil.models  # noqa: E402
import services.exchange.registries.social.models  # noqa: E402
import services.exchange.retention.models  # noqa: E402, F401

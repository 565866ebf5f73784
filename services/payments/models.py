"""The payments service's tables: its own metadata, its own database."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.app import infrastructure_tables
from services.common.db import new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


outbox, seen_assertions, idempotency_records = infrastructure_tables(metadata)

# Each domain's tables join `metadata` on import; importing them here makes `metadata` complete for migrations and
# tests whichever module is imported first (they import Base from this module, hence the bottom of the file).
import services.payments.bulk.models  # noqa: E402
import services.payments.ledger.models  # noqa: E402
import services.payments.mapper.models  # noqa: E402
import services.payments.records.models  # noqa: E402
import services.payments.settlement.models  # noqa: E402
import services.payments.transfers.models  # noqa: E402, F401

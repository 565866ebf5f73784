"""The message log: one signed, hash-chained, time-stamped entry per request/response pair on each side of the
exchange (what the consumer sent and got, what the provider was sent and answered), and each chain's signed head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base, Json


class LogEntry(Base):
    __tablename__ = "message_log"

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)  # consumer | provider
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    record: Mapped[dict[str, Any]] = mapped_column(Json)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)


class LogHead(Base):
    """The last entry of a chain, signed: without it, deleting the newest entries would leave a valid chain."""

    __tablename__ = "message_log_heads"

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)

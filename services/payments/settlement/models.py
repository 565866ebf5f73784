"""Settlement windows (open → closed → settled) and the net positions of each FSP in a window."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.payments.models import Base


class WindowState(StrEnum):
    open = "open"
    closed = "closed"
    settled = "settled"


class SettlementWindow(Base):
    __tablename__ = "settlement_windows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NetPosition(Base):
    __tablename__ = "net_positions"

    window_id: Mapped[str] = mapped_column(ForeignKey("settlement_windows.id"), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    net: Mapped[int] = mapped_column(BigInteger, doc="Received minus sent by its customers: > 0 is owed to it.")

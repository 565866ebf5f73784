"""Subscriptions of consumer subsystems to a service's events, and each event's delivery to each subscription (one
row per pair: a second delivery of the same event is recognised and dropped, so consumers may be redelivered to)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base, Json


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("subscriber_subsystem_id", "service_id", "event_type"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscriber_subsystem_id: Mapped[str] = mapped_column(ForeignKey("subsystems.id"))
    client_id: Mapped[str] = mapped_column(String(200))
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"))
    event_type: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

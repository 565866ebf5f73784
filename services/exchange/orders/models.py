"""Court orders, kept by the oversight role: which law-enforcement member may see which fields of which subject,
until when, and from when the subject may learn of it (SG-LAWFUL-1, SG-ACCESS-2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base, Json


class CourtOrder(Base):
    __tablename__ = "court_orders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(120))  # the court's own case reference
    court: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(40), index=True)
    fields: Mapped[list[str]] = mapped_column(Json)
    services: Mapped[list[str]] = mapped_column(Json)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disclose_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

"""A grievance ticket and its history, in the gateway's own database."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime


class GrievanceStatus(StrEnum):
    received = "received"
    acknowledged = "acknowledged"
    in_review = "in_review"
    resolved = "resolved"
    escalated = "escalated"


OPEN = (GrievanceStatus.received, GrievanceStatus.acknowledged, GrievanceStatus.in_review)


class GrievanceCategory(StrEnum):
    identity = "identity"
    consent = "consent"
    data_access = "data_access"
    payment = "payment"
    exclusion = "exclusion"
    other = "other"


class Grievance(Base):
    __tablename__ = "grievances"
    __table_args__ = (
        Index("ix_grievances_sub", "sub", "id"),
        Index("ix_grievances_status_resolve_by", "status", "resolve_by"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), comment="The person the grievance is about (internal reference).")
    opened_by: Mapped[str] = mapped_column(String(128), comment="The client id that filed it.")
    channel: Mapped[str] = mapped_column(String(16))
    assisted_by: Mapped[str | None] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[str | None] = mapped_column(String(32))
    audit_event_id: Mapped[str | None] = mapped_column(String(64))
    payment_record_id: Mapped[str | None] = mapped_column(String(64))
    consent_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    acknowledge_by: Mapped[datetime] = mapped_column(UTCDateTime())
    resolve_by: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GrievanceEvent(Base):
    """One change of a ticket: who moved it to which state, when, through which channel."""

    __tablename__ = "grievance_events"
    __table_args__ = (Index("ix_grievance_events_grievance", "grievance_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grievance_id: Mapped[str] = mapped_column(ForeignKey("grievances.id"))
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

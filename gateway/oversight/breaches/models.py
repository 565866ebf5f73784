"""A breach incident and the people it touched, in the gateway's own database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime


class BreachIncident(Base):
    __tablename__ = "breach_incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(128), comment="Where the breach happened.")
    description: Mapped[str] = mapped_column(Text)
    data_categories: Mapped[str] = mapped_column(Text, comment="What was exposed (comma-separated names).")
    found_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="When the breach was discovered.")
    notify_by: Mapped[datetime] = mapped_column(UTCDateTime(), comment="Every affected person told by then.")
    recorded_by: Mapped[str] = mapped_column(String(128), comment="The oversight client that recorded it.")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    audit_event_id: Mapped[str] = mapped_column(String(64), comment="The audit event that recorded it.")


class BreachPerson(Base):
    """One affected person of one incident: their notice and what their reissue changed."""

    __tablename__ = "breach_people"
    __table_args__ = (UniqueConstraint("incident_id", "sub", name="uq_breach_people_incident_sub"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("breach_incidents.id"))
    sub: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(64))
    reissued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    vids_revoked: Mapped[int | None] = mapped_column(Integer)
    vids_issued: Mapped[int | None] = mapped_column(Integer)
    credentials_revoked: Mapped[int | None] = mapped_column(Integer)

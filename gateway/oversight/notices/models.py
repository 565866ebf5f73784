"""The notices the gateway owes people, and how far it has read the audit log for them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.columns import EnumColumn
from services.common.db import UTCDateTime


class NoticeKind(StrEnum):
    data_access = "data_access"  # an organisation received items of the person's data (SG-NOTIFY-1)
    breach = "breach"  # a security incident may have exposed the person's data (SG-BREACH-1)


class NoticeStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # identity refused it for good (the person is unknown or no longer active)


class SubjectNotice(Base):
    """One notice to one person: what identity is asked to say, when it may go, and what became of it."""

    __tablename__ = "subject_notices"
    __table_args__ = (
        Index("ix_subject_notices_due", "status", "due_at"),
        Index("ix_subject_notices_incident", "incident_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(EnumColumn(NoticeKind))
    sub: Mapped[str] = mapped_column(String(64), comment="The person told (internal subject reference).")
    organisation: Mapped[str] = mapped_column(String(128), comment="Who received the data, or who was breached.")
    items: Mapped[str] = mapped_column(Text, comment="The data items (comma-separated names, never values).")
    purpose: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), comment="Not sent before: now, or a court order's disclose-after (SG-ACCESS-2)."
    )
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), comment="Breach notices: the latest in time.")
    audit_event_id: Mapped[str | None] = mapped_column(String(64), unique=True, comment="The access it reports.")
    incident_id: Mapped[str | None] = mapped_column(String(64), comment="The breach it reports.")
    status: Mapped[NoticeStatus] = mapped_column(EnumColumn(NoticeStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="A sender has taken it until then (several gateway processes send)."
    )
    last_error: Mapped[str | None] = mapped_column(String(256))
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    language_fallback: Mapped[bool | None] = mapped_column(Boolean)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NoticeCursor(Base):
    """One row: the next audit log index the notice writer has not read yet (locked while it reads)."""

    __tablename__ = "notice_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_index: Mapped[int] = mapped_column(BigInteger)

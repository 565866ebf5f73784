"""Correction cases: a subject asks for one field to change; a registrar decides within an SLA (SG-GRIEV-3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class CorrectionStatus(StrEnum):
    open = "open"
    escalated = "escalated"  # overdue and handed to oversight; a registrar can still decide it
    approved = "approved"
    rejected = "rejected"


UNDECIDED = (CorrectionStatus.open, CorrectionStatus.escalated)


class CorrectionCase(Base):
    __tablename__ = "correction_cases"

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    # The requested value and the reason are personal data: encrypted like the record (no ciphertext = clear it).
    value_key_id: Mapped[str | None] = mapped_column(String(32))
    value_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    reason_key_id: Mapped[str] = mapped_column(String(32))
    reason_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[CorrectionStatus] = mapped_column(EnumColumn(CorrectionStatus), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))

"""Identity exception cases (SG-INCL-1): a person without a usable UIN/VID is identified by alternative evidence
that an officer verifies. The evidence and the claims are personal data: encrypted, each with its key id beside it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class ExceptionStatus(StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class IdentityExceptionCase(Base):
    __tablename__ = "identity_exception_cases"

    id: Mapped[Id] = mapped_column(primary_key=True)
    status: Mapped[ExceptionStatus] = mapped_column(EnumColumn(ExceptionStatus), index=True)
    purpose: Mapped[str] = mapped_column(String(100))
    evidence_type: Mapped[str] = mapped_column(String(32))
    evidence_key_id: Mapped[str] = mapped_column(String(32))
    evidence_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    claimed_name_key_id: Mapped[str | None] = mapped_column(String(32))
    claimed_name_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    claimed_dob_key_id: Mapped[str | None] = mapped_column(String(32))
    claimed_dob_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_key_id: Mapped[str | None] = mapped_column(String(32))
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    channel: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(200))  # the client that opened the case and may read it
    assisted_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason_key_id: Mapped[str | None] = mapped_column(String(32))
    reason_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id"), index=True)

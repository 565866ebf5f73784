"""Signed records: every step of every payment stored with a JWS over its canonical form (SG-AUDIT-2), and the
disputes filed against them (SG-GRIEV-4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.payments.models import Base


class Step(StrEnum):
    initiation = "initiation"
    reservation = "reservation"
    commit = "commit"
    abort = "abort"
    reversal = "reversal"
    settlement = "settlement"


class SignedRecord(Base):
    __tablename__ = "signed_records"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(96), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="transfer, disbursement or settlement")
    step: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(96), index=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("signed_records.id"))
    reason: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(1000))
    filed_by: Mapped[str] = mapped_column(String(100))
    subject_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

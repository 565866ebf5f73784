"""Signed receipts: one per artefact version, each a compact JWS over the canonical record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.consent.models import Base


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_subject_id", "subject", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    subject: Mapped[str] = mapped_column(String(128))
    artefact_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kid: Mapped[str] = mapped_column(String(128))
    jws: Mapped[str] = mapped_column(Text)

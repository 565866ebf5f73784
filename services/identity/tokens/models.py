"""The pairwise tokens handed to relying parties, kept as blind indexes so a presented token resolves to a person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.identity.base import Base


class PairwiseToken(Base):
    __tablename__ = "pairwise_tokens"
    __table_args__ = (UniqueConstraint("relying_party_id", "person_id"),)

    relying_party_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    token_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

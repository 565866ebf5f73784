"""Adjudication cases: a held enrolment, the persons it may duplicate, and the adjudicator's decision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class CaseStatus(StrEnum):
    open = "open"
    decided = "decided"


class Decision(StrEnum):
    distinct = "distinct"  # a different person: the held enrolment gets its UIN
    duplicate = "duplicate"  # the same person: the held enrolment is refused and linked to the existing record


class MatchSignal(StrEnum):
    demographic = "demographic"  # normalised full name and date of birth
    biometric = "biometric"  # keyed hash of the synthetic biometric template


class AdjudicationCase(Base):
    __tablename__ = "adjudication_cases"

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    candidate_person_ids: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    match_signals: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    status: Mapped[CaseStatus] = mapped_column(EnumColumn(CaseStatus), index=True)
    decision: Mapped[Decision | None] = mapped_column(EnumColumn(Decision))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

"""Persons: one row per enrolment, personal data only as encrypted attributes, look-ups only by blind index."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class PersonStatus(StrEnum):
    pending_adjudication = "pending_adjudication"  # a suspected duplicate, held until an adjudicator decides
    active = "active"  # has a UIN
    refused_duplicate = "refused_duplicate"  # the adjudicator found it is someone already enrolled


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[Id] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[PersonStatus] = mapped_column(EnumColumn(PersonStatus, 32), index=True)
    uin_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    name_dob_index: Mapped[str] = mapped_column(String(64), index=True)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    biometric_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    consent_biometric: Mapped[bool] = mapped_column(Boolean)
    consent_notices: Mapped[bool] = mapped_column(Boolean)
    duplicate_of: Mapped[str | None] = mapped_column(ForeignKey("persons.id"))
    enrolled_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uin_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Ways of authenticating the person has locked (MOSIP's auth-type lock); read with the person on every attempt.
    locked_factors: Mapped[list[str] | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))


class PersonAttribute(Base):
    """One encrypted personal field: AES-GCM under `key_id`, bound to the person and field name as associated data."""

    __tablename__ = "person_attributes"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

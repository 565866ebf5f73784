"""Consent artefacts and their append-only history of state changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.consent.models import Base
from services.consent.purposes.models import Json


def list_key(values: list[str]) -> str:
    """ ",a,b," for ["a", "b"]: each value matches as LIKE '%,a,%' (values are [a-z0-9_] or country codes)."""
    return "," + ",".join(values) + ","


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (
        # The decision's look-up: the artefacts one requester holds from one subject for one purpose.
        Index("ix_consents_requester_subject_purpose", "requester", "subject", "purpose"),
        Index("ix_consents_subject_id", "subject", "id"),
        Index("ix_consents_status_expires_at", "status", "expires_at"),
        # Room in each page for the row's next version: a permit's UPDATE then stays HOT, touching no index.
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    requester: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(ForeignKey("purposes.code"))
    notice: Mapped[dict[str, Any]] = mapped_column(Json)
    legal_basis: Mapped[str] = mapped_column(String(64))
    essential: Mapped[bool] = mapped_column(Boolean)
    items: Mapped[list[str]] = mapped_column(Json)
    # The items and jurisdictions again as ",a,b," text, so the decision's one statement can match them with LIKE
    # on both backends (no dialect-specific JSON operators); written with the lists, never changed apart.
    items_key: Mapped[str] = mapped_column(String(7000))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data_life_unit: Mapped[str] = mapped_column(String(8))
    data_life_value: Mapped[int] = mapped_column(Integer)
    data_life_seconds: Mapped[int] = mapped_column(Integer)
    frequency_unit: Mapped[str | None] = mapped_column(String(8))
    frequency_value: Mapped[int | None] = mapped_column(Integer)
    # The calendar period (e.g. "2026-03-14" for a daily limit) the window_uses count belongs to.
    window_key: Mapped[str | None] = mapped_column(String(16))
    window_uses: Mapped[int] = mapped_column(Integer, default=0)
    use_limit: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    jurisdiction: Mapped[list[str]] = mapped_column(Json)
    jurisdiction_key: Mapped[str] = mapped_column(String(100))
    transfer_basis: Mapped[str | None] = mapped_column(String(500))
    revoke_url: Mapped[str] = mapped_column(String(500))
    grievance_url: Mapped[str] = mapped_column(String(500))
    data_life_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentEvent(Base):
    """One state change of an artefact (ISO/IEC TS 27560 events): who, when, through which channel."""

    __tablename__ = "consent_events"
    __table_args__ = (UniqueConstraint("consent_id", "seq"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    previous_status: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    actor_type: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    assisted_by: Mapped[str | None] = mapped_column(String(200))
    subject_confirmed: Mapped[bool] = mapped_column(Boolean)
    receipt_id: Mapped[str] = mapped_column(String(64))

"""The purpose registry's tables: one row per purpose, and the log of its status changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.consent.models import Base

Json = JSON().with_variant(JSONB(), "postgresql")


class Purpose(Base):
    __tablename__ = "purposes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    texts: Mapped[dict[str, Any]] = mapped_column(Json)
    dpv_purpose: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(64))
    essential: Mapped[bool] = mapped_column(Boolean)
    allowed_items: Mapped[list[str]] = mapped_column(Json)
    legally_required: Mapped[list[dict[str, str]]] = mapped_column(Json)
    max_validity_days: Mapped[int] = mapped_column(Integer)
    max_data_life_days: Mapped[int] = mapped_column(Integer)
    ekyc_allowed: Mapped[bool] = mapped_column(Boolean)
    statutes: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    dpia_ref: Mapped[str] = mapped_column(String(500))
    hria_ref: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PurposeChange(Base):
    """Who moved a purpose to which status, when and why (append-only)."""

    __tablename__ = "purpose_changes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("purposes.code"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

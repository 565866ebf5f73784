"""Payloads a consumer asked the exchange to keep: each with its retain_until; purged to a disposition record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base, Json

# None is SQL NULL here, not JSON null: a purged payload is simply absent.
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class StoredPayload(Base):
    __tablename__ = "stored_payloads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), index=True)
    consumer_subsystem_id: Mapped[str] = mapped_column(String(180))
    message_id: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(240))
    subject: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(16))
    consent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    fields: Mapped[list[str]] = mapped_column(Json)
    payload: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)  # None once purged
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Why retain_until is what it is: retention_period | consent_revoked | consent_expired (the disposition reason).
    retain_reason: Mapped[str] = mapped_column(String(20))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disposition: Mapped[str | None] = mapped_column(String(20))

"""The directory: members (organisations), their subsystems, the services subsystems provide, the access rights
providers grant to consumer subsystems (deny by default), and the agreements between members (public)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.exchange.models import Base, Json


class Member(Base):
    """An organisation on the exchange, named like X-Road: `INSTANCE:CLASS:CODE`."""

    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    member_class: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Subsystem(Base):
    """One information system of a member (`INSTANCE:CLASS:CODE:SUBSYSTEM`); a consumer acts through its gateway
    client, a provider serves its services."""

    __tablename__ = "subsystems"

    id: Mapped[str] = mapped_column(String(180), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    client_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    processing_location: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExchangeService(Base):
    """A service a provider subsystem offers (`<subsystem>:SERVICE:VERSION`), with the fields it can release."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(240), primary_key=True)
    provider_subsystem_id: Mapped[str] = mapped_column(ForeignKey("subsystems.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    provider_path: Mapped[str] = mapped_column(String(300))
    fields: Mapped[list[str]] = mapped_column(Json)
    # Protected attributes (SG-NONDISC-1) and, per field, the purposes a law requires it for: {field: [{purpose,
    # reference}]}. A protected field is stripped unless the request's purpose is listed for it.
    protected_fields: Mapped[dict[str, Any]] = mapped_column(Json)
    # Purposes a statute lets a consumer use this service for without the subject's consent: [{purpose, reference}].
    statutes: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    event_types: Mapped[list[str]] = mapped_column(Json)
    max_retention_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessRight(Base):
    """A provider's grant to one consumer subsystem for one service: which fields, for which purposes."""

    __tablename__ = "access_rights"
    __table_args__ = (UniqueConstraint("service_id", "client_subsystem_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"))
    client_subsystem_id: Mapped[str] = mapped_column(ForeignKey("subsystems.id"), index=True)
    fields: Mapped[list[str]] = mapped_column(Json)
    purposes: Mapped[list[str]] = mapped_column(Json)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Agreement(Base):
    """A data-sharing agreement between a provider and a consumer member; public (SG-TRANSP-1)."""

    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    consumer_member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    services: Mapped[list[str]] = mapped_column(Json)
    purposes: Mapped[list[str]] = mapped_column(Json)
    legal_reference: Mapped[str | None] = mapped_column(String(300))
    signed_on: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

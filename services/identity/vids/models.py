"""Virtual IDs: revocable stand-ins for the UIN that a person hands out, stored as blind index + ciphertext."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class VidStatus(StrEnum):
    active = "active"
    revoked = "revoked"
    expired = "expired"  # never stored: an active VID past its expiry reads as expired


class Vid(Base):
    __tablename__ = "vids"

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    vid_index: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[VidStatus] = mapped_column(EnumColumn(VidStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

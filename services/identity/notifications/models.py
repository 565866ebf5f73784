"""The simulated SMS/e-mail outbox: what a real messaging gateway would have delivered, kept encrypted at rest."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class MessageChannel(StrEnum):
    sms = "sms"
    email = "email"
    app = "app"  # the person's inbox in the citizen app (GET /v1/me/notifications), when no SMS or e-mail is used


class MessageKind(StrEnum):
    otp = "otp"  # a one-time code the person (or a relying party on their behalf) asked for
    access_notice = "access_notice"  # "your identity was used by ..." (SG-NOTIFY-1)
    data_access = "data_access"  # "an organisation received these items of your data" (SG-NOTIFY-1, via the gateway)
    breach = "breach"  # "a security incident may have exposed your data; reissue your VID" (SG-BREACH-1)
    guess_ceiling = "guess_ceiling"  # "too many wrong PINs: paused everywhere until ...; sign in another way"


class SimulatedMessage(Base):
    """One message "sent" to a person. The body is AES-GCM encrypted (it may hold a live one-time code)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_person", "person_id", "id"),)

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    channel: Mapped[MessageChannel] = mapped_column(EnumColumn(MessageChannel))
    destination_masked: Mapped[str] = mapped_column(String(100))
    kind: Mapped[MessageKind] = mapped_column(EnumColumn(MessageKind, 32))
    language: Mapped[str] = mapped_column(String(16))
    language_fallback: Mapped[bool]
    key_id: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

"""Issued offline credentials: which status-list entry each one owns, and whether it was revoked.

Nothing of the credential's content is kept: the holder has it, and the service can sign a new one at any time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class OfflineCredential(Base):
    __tablename__ = "offline_credentials"

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    # Drawn at random, so that an index says nothing about its holder or when it was issued.
    status_index: Mapped[int] = mapped_column(Integer, unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200))

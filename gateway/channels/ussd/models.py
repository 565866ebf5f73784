"""A USSD menu session in the gateway's own database: where the person is in the menu, and since when.

Keyed by the aggregator's client and its session id. It holds no PIN, no code and no phone number: only the menu
state, the language chosen, and, once the person confirmed, their internal `sub` and the confirmation's reference.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime


class UssdSession(Base):
    __tablename__ = "ussd_sessions"
    __table_args__ = (Index("ix_ussd_sessions_last_seen", "last_seen_at"),)

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True, comment="The aggregator's client.")
    session_id: Mapped[str] = mapped_column(String(100), primary_key=True, comment="The aggregator's session id.")
    state: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    inputs_seen: Mapped[int] = mapped_column(Integer, comment="How many `*`-separated inputs have been handled.")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, comment="Menu choices so far (no secret, no phone number).")
    sub: Mapped[str | None] = mapped_column(String(64), comment="The confirmed person (internal reference).")
    confirmation: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())

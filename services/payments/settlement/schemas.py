"""Wire shapes of settlement windows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from services.payments.money import SignedMoney
from services.payments.settlement.models import WindowState


class Position(BaseModel):
    participant_id: str
    net: SignedMoney


class WindowRead(BaseModel):
    window_id: str
    state: WindowState
    opened_at: datetime
    closed_at: datetime | None
    settled_at: datetime | None
    positions: list[Position]

"""Wire shapes of stored payloads."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class StoredPayloadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    service_id: str
    subject: str
    purpose: str
    legal_basis: str
    fields: list[str]
    payload: dict[str, object]
    stored_at: datetime
    retain_until: datetime


class PurgeResult(BaseModel):
    purged: int

"""Wire shapes of VIDs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.identity.vids.models import VidStatus


class VidCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_for_days: int | None = Field(
        default=None, ge=1, description="Days until the VID stops working; omit for a VID that lasts until revoked."
    )


class VidRead(BaseModel):
    id: str
    vid: str = Field(description="The 16-digit virtual ID to hand out instead of the UIN.")
    status: VidStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

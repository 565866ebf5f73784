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


class ReissueResult(BaseModel):
    """What a reissue after a breach changed (SG-BREACH-1): counts only, never a number. The person reads the new
    VIDs in their app (`GET /v1/me/vids`) and signs a new offline credential there
    (`POST /v1/me/offline-credential`)."""

    vids_revoked: int = Field(ge=0)
    vids_issued: int = Field(ge=0)
    offline_credentials_revoked: int = Field(ge=0)

"""Wire shapes of the offline credential."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class OfflineCredentialClaims(BaseModel):
    """Everything the credential says: minimal by design (SG-INCL-4), never the UIN."""

    sub: str = Field(description="The person's pairwise token for the sandbox's offline verifier (`offline-verifier`).")
    name: str = Field(description="Display name, to compare with the person in front of the verifier.")
    photo_hash: str | None = Field(
        default=None,
        description="Stand-in for a photo hash (the sandbox holds no photos); present if a biometric was enrolled.",
    )


class OfflineCredentialRead(BaseModel):
    id: str = Field(description="The credential's id (`ocr_…`), to revoke it.")
    credential: str = Field(description="Compact ES256 JWS, typ `dpi-offline-id+jwt`.")
    qr_payload: str = Field(description="The string to encode in the QR code: `DPI1:` and the credential.")
    claims: OfflineCredentialClaims
    issuer: str
    key_id: str = Field(description="The `kid` of the signing key in /.well-known/jwks.json.")
    status_index: int = Field(description="The credential's entry in the status list (`status.status_list.idx`).")
    status_list_uri: str = Field(description="Where the Status List Token is published (`status.status_list.uri`).")
    issued_at: datetime
    expires_at: datetime


class OfflineCredentialStatus(StrEnum):
    valid = "valid"
    expired = "expired"
    revoked = "revoked"


class OfflineCredentialEntry(BaseModel):
    """One credential the person was issued, as the service remembers it: never its content."""

    id: str = Field(description="The credential's id (`ocr_…`), to revoke it.")
    status: OfflineCredentialStatus
    status_index: int = Field(description="Its entry in the status list (the credential's `status.status_list.idx`).")
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class OfflineCredentialList(BaseModel):
    items: list[OfflineCredentialEntry]

"""Wire shapes of signed consent receipts (ISO/IEC TS 27560 record, JWS over its RFC 8785 canonical form)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.common.paging import Page
from services.consent.consents.schemas import ConsentStatus

RECEIPT_SCHEMA_VERSION = "dpi-sandbox-consent-receipt/1"
RECEIPT_JWS_TYPE = "consent-receipt+jws"


class ReceiptRead(BaseModel):
    """A receipt: the signed record of one artefact version, verifiable offline with the service's JWKS."""

    id: str
    consent_id: str
    artefact_version: int
    status: ConsentStatus = Field(description="The artefact's status this receipt records.")
    issued_at: datetime
    kid: str = Field(description="The signing key's id in the consent service's /.well-known/jwks.json.")
    jws: str = Field(description="Compact JWS (ES256) whose payload is the RFC 8785 canonical JSON of `record`.")
    record: dict[str, Any] = Field(description="The ISO/IEC TS 27560-shaped record the JWS signs.")


class ReceiptPage(Page[ReceiptRead]):
    """A page of receipts, newest first."""

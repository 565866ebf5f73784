"""Wire shapes of eKYC."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.identity.authn.schemas import AnyFactor, Individual
from services.identity.config import KycAttribute


class KycRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    individual: Individual | None = Field(
        default=None, description="The person's VID, unless the gateway resolved them (assertion `sub`)."
    )
    factor: AnyFactor = Field(
        description="The person's own factor, checked as in POST /v1/authn: a release needs the person present, "
        "as MOSIP's and Aadhaar's eKYC do. A failure is 401 and releases nothing."
    )
    attributes: list[KycAttribute] | None = Field(
        default=None,
        min_length=1,
        description="Optionally fewer attributes than the consent covers. What the consent covers is not the relying "
        "party's say: the gateway puts the consent artefact's data items in the assertion (`consented_items`). "
        "The UIN is never releasable.",
        examples=[["full_name", "date_of_birth"]],
    )


class KycResponse(BaseModel):
    attributes: dict[KycAttribute, str] = Field(
        description="Only attributes the purpose allows AND the consent covers (and the record holds)."
    )
    withheld: list[str] = Field(description="Consented or requested items that are not released.")
    purpose: str
    consent_id: str
    subject_token: str | None = Field(description="The relying party's own pairwise token for the person.")
    transaction_id: str = Field(description="The person's auth history entry for this release.")
    issued_at: datetime
    signed_kyc: str = Field(
        description="The same release as a compact ES256 JWS (typ `dpi-kyc+jwt`, aud = the relying party), "
        "verifiable with the service's /.well-known/jwks.json."
    )

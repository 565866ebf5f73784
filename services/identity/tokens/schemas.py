"""Wire shapes of subject resolution and pairwise tokens (used by the gateway only)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from services.identity.persons.uin import is_valid_vid

RelyingPartyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,100}$")]


class ReferenceType(StrEnum):
    vid = "vid"
    pairwise_token = "pairwise_token"  # noqa: S105 (a reference kind, not a secret)


class SubjectReference(BaseModel):
    """What a caller presented for a person: a VID, or a relying party's own pairwise token."""

    model_config = ConfigDict(extra="forbid")

    type: ReferenceType
    relying_party_id: RelyingPartyId | None = Field(
        default=None, description="Whose pairwise token it is; required for `pairwise_token`."
    )
    value: str = Field(min_length=1, max_length=100, examples=["2345678901234567"])

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("type") is ReferenceType.vid and not is_valid_vid(value):
            raise ValueError("not a VID: 16 digits with a valid check digit")
        if info.data.get("type") is ReferenceType.pairwise_token and not info.data.get("relying_party_id"):
            raise ValueError("a pairwise token needs its relying_party_id")
        return value


class SubjectResolution(BaseModel):
    sub: str = Field(description="The internal subject reference, for the sandbox's trusted services only.")
    reference_type: ReferenceType


class PairwiseTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relying_party_id: RelyingPartyId


class PairwiseTokenRead(BaseModel):
    relying_party_id: str
    token: str = Field(description="Stable for this person and relying party; unlinkable across relying parties.")

"""Wire shapes of authentication. Results are yes/no and booleans only: no demographic field ever (SG-MIN-2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.paging import Page
from services.identity.authn.models import Factor, Operation, PersonFactor, Result
from services.identity.notifications.models import MessageChannel
from services.identity.persons.uin import is_valid_uin, is_valid_vid

OtpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
PinCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,12}$")]


class IndividualType(StrEnum):
    vid = "vid"
    uin = "uin"


class Individual(BaseModel):
    """Who is authenticating, when the gateway has not already resolved them to a subject reference."""

    model_config = ConfigDict(extra="forbid")

    type: IndividualType = Field(default=IndividualType.vid, description="Prefer a VID: it can be revoked.")
    value: str = Field(min_length=1, max_length=32, repr=False, examples=["2345678901234567"])

    @model_validator(mode="after")
    def _check_digit(self) -> Individual:
        valid = is_valid_vid(self.value) if self.type is IndividualType.vid else is_valid_uin(self.value)
        if not valid:
            raise ValueError(f"not a valid {self.type.value.upper()}: wrong length or check digit")
        return self


class OtpFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["otp"]
    otp: OtpCode = Field(repr=False, description="The 6-digit code from POST /v1/authn/otp.")


class PinFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["pin"]
    pin: PinCode = Field(repr=False)


class BiometricFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["biometric"]
    template: str = Field(
        min_length=1,
        max_length=4096,
        repr=False,
        description="The sandbox's synthetic biometric template, compared by keyed hash to the enrolled one.",
    )


class OfflineQrFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["offline_qr"]
    qr_payload: str = Field(
        min_length=1, max_length=4096, description="The scanned QR string of the person's offline credential."
    )


ConfirmationFactor = Annotated[OtpFactor | PinFactor, Field(discriminator="type")]


class AssistedFactor(BaseModel):
    """A field operator helps; the person still confirms with their own OTP or PIN (SG-INCL-3)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["assisted"]
    confirmation: ConfirmationFactor | None = Field(
        default=None, description="The subject's own OTP or PIN. Without it the request is denied (SG-INCL-3)."
    )


AnyFactor = Annotated[
    OtpFactor | PinFactor | BiometricFactor | OfflineQrFactor | AssistedFactor, Field(discriminator="type")
]


class AuthnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    individual: Individual | None = Field(
        default=None,
        description="Needed unless the gateway resolved the person (assertion `sub`); not for the subject's own app.",
    )
    factor: AnyFactor


class AuthnResult(BaseModel):
    """A yes/no answer. Deliberately without any attribute of the person (SG-MIN-2)."""

    model_config = ConfigDict(extra="forbid")

    authenticated: bool = Field(description="Failures answer 401 with `authenticated: false` in the problem body.")
    factor: Factor
    transaction_id: str = Field(description="The auth history entry; quote it in a grievance.")
    auth_time: datetime
    subject_token: str | None = Field(
        default=None,
        description="For relying parties: their own pairwise token for the person (like MOSIP's PSUT), stable for "
        "them and unlinkable across relying parties. It cannot be used to authenticate.",
    )


class Predicate(StrEnum):
    age_over_18 = "age_over_18"
    resident = "resident"  # residency status citizen or resident


class PredicateRequest(AuthnRequest):
    predicates: list[Predicate] = Field(min_length=1, max_length=len(Predicate))


class PredicateResult(BaseModel):
    """The person authenticated, and the predicates as booleans: never the values they are computed from."""

    model_config = ConfigDict(extra="forbid")

    authenticated: bool
    factor: Factor
    transaction_id: str
    auth_time: datetime
    predicates: dict[Predicate, bool]


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    individual: Individual | None = None


class OtpRequested(BaseModel):
    otp_request_id: str
    channel: MessageChannel
    destination: str = Field(description="Masked: enough for the person to recognise it, no more.")
    expires_at: datetime
    max_attempts: int


class PinSet(BaseModel):
    """Set or change the PIN. Changing an existing one needs the current PIN, or a fresh OTP if it is forgotten."""

    model_config = ConfigDict(extra="forbid")

    pin: PinCode = Field(repr=False)
    current_pin: PinCode | None = Field(default=None, repr=False)
    otp: OtpCode | None = Field(default=None, repr=False, description="From POST /v1/authn/otp by the same app.")


class PinStatus(BaseModel):
    pin_set: bool
    updated_at: datetime


class FactorLockSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locked: bool = Field(description="true locks this way of authenticating the person; false unlocks it.")


class FactorLockState(BaseModel):
    factor: PersonFactor
    locked: bool


class FactorLockList(BaseModel):
    items: list[FactorLockState]


class AuthEventRead(BaseModel):
    """One entry of a person's auth history (like Aadhaar's): who, when, how, for what, and the result."""

    id: str
    occurred_at: datetime
    operation: Operation
    factor: Factor
    result: Result
    reason: str | None = Field(description="Why it failed, as a stable code (e.g. `otp.mismatch`).")
    relying_party: str = Field(description="The client that asked.")
    channel: str
    assisted_by: str | None
    purpose: str | None
    attributes: list[str] = Field(description="Names of the attributes released or predicates asked; no values.")


class AuthHistoryPage(Page[AuthEventRead]):
    """A page of my authentication history, newest first."""

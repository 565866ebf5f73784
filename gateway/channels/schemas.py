"""Wire shapes of the assisted channel: the operator names the person and carries their own confirmation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.oversight.grievances.schemas import GrievanceCreate

Vid = Annotated[str, StringConstraints(pattern=r"^[0-9]{16}$")]
OperatorId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,40}$")]
ConsentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Confirmation(BaseModel):
    """The person's own confirmation, typed in by them: a one-time code sent to their phone, or their PIN."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["otp", "pin"]
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,12}$")] = Field(repr=False)


class AssistedPerson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vid: Vid = Field(repr=False, description="The person's VID (never their UIN).")
    confirmation: Confirmation


class OtpFor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: OperatorId = Field(description="The staff member at the desk (recorded as `assisted_by`).")
    vid: Vid = Field(repr=False)


class AssistedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: OperatorId = Field(description="The staff member at the desk (recorded as `assisted_by`).")
    person: AssistedPerson


class AssistedRevocation(AssistedRequest):
    consent_id: ConsentId


class AssistedGrievance(AssistedRequest):
    grievance: GrievanceCreate = Field(
        description="As at POST /me/grievances; the channel is `assisted`, whatever it says."
    )


class CorrectionFields(BaseModel):
    """The correction the person asks for; the identity service validates the value like enrolment."""

    model_config = ConfigDict(extra="forbid")

    field: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
    value: Annotated[str, StringConstraints(max_length=500)] | None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True)]


class AssistedCorrection(AssistedRequest):
    correction: CorrectionFields


class OtpSent(BaseModel):
    destination: str = Field(description="Masked: enough for the person to recognise their phone, no more.")
    expires_at: str


class AssistedAnswer(BaseModel):
    """What the person's own app would have received, and how the action was recorded."""

    channel: Literal["assisted"] = "assisted"
    assisted_by: str = Field(description="The desk's client and the staff member, as the audit event names them.")
    confirmation: str = Field(description="The factor and identity's auth transaction id the person confirmed with.")
    result: Any = Field(
        description="The service's answer, exactly as at the matching /me route (see that route for its schema)."
    )

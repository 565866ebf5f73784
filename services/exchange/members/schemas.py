"""Wire shapes of the directory: members, subsystems, services, access rights and agreements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

INSTANCE = "SBX"  # the sandbox's one X-Road-style instance
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
PurposeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z]+(\.[a-z_]+){1,3}$")]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text2000 = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ProviderPath = Annotated[str, StringConstraints(pattern=r"^/[a-z0-9_/-]*\{subject\}[a-z0-9_/-]*$", max_length=300)]
MemberClass = Literal["GOV", "COM", "NGO", "LAW"]


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_class: MemberClass = Field(description="GOV (government), COM (commercial), NGO, LAW (law enforcement).")
    code: Code = Field(description="The member's code within its class, e.g. a registration number.")
    name: Text200


class SubsystemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The gateway client this subsystem consumes services as; none for a provider-only subsystem.",
    )
    processing_location: CountryCode = Field(description="Where the subsystem processes data (SG-XBORDER-1).")


class SubsystemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["SBX:GOV:CRA:civil-registry"])
    member_id: str
    code: str
    client_id: str | None
    processing_location: str
    created_at: datetime


class MemberRead(BaseModel):
    id: str = Field(examples=["SBX:GOV:CRA"])
    member_class: str
    code: str
    name: str
    created_at: datetime
    subsystems: list[SubsystemRead]


class LegalReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: PurposeCode
    reference: Text200 = Field(description="The law that provides for it, e.g. `Social Assistance Act s.12`.")


class ServiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    version: Annotated[str, StringConstraints(pattern=r"^v[0-9]{1,3}$")] = "v1"
    title: Text200
    description: Text2000
    provider_path: ProviderPath = Field(
        description="The path on the provider's information system, with `{subject}` for the subject reference."
    )
    fields: list[FieldName] = Field(min_length=1, max_length=100)
    protected_fields: dict[FieldName, list[LegalReference]] = Field(
        default_factory=dict,
        description="Protected attributes (SG-NONDISC-1), each with the purposes a law requires it for; stripped "
        "from every other response.",
    )
    statutes: list[LegalReference] = Field(
        default_factory=list,
        description="Purposes a statute provides for without the subject's consent (legal basis `statute`).",
    )
    event_types: list[EventType] = Field(default_factory=list, max_length=20)
    max_retention_days: int = Field(
        default=30, ge=0, le=3650, description="The longest a consumer may keep what it stored from this service."
    )


class ServiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["SBX:GOV:CRA:civil-registry:person-record:v1"])
    provider_subsystem_id: str
    code: str
    version: str
    title: str
    description: str
    fields: list[str]
    protected_fields: dict[str, list[LegalReference]]
    statutes: list[LegalReference]
    event_types: list[str]
    max_retention_days: int
    status: str
    openapi: str = Field(description="Where this service's own OpenAPI document is.")


class AccessRightCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_subsystem_id: Annotated[str, StringConstraints(min_length=1, max_length=180)]
    fields: list[FieldName] = Field(min_length=1, max_length=100, description="The fields the consumer may receive.")
    purposes: list[PurposeCode] = Field(min_length=1, max_length=20, description="The purposes it may use them for.")


class AccessRightRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    service_id: str
    client_subsystem_id: str
    fields: list[str]
    purposes: list[str]
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None


class AgreementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_member_id: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    consumer_member_id: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    title: Text200
    summary: Text2000
    services: list[Annotated[str, StringConstraints(min_length=1, max_length=240)]] = Field(min_length=1)
    purposes: list[PurposeCode] = Field(min_length=1)
    legal_reference: Text200 | None = None
    signed_on: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class AgreementRead(AgreementCreate):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    created_at: datetime

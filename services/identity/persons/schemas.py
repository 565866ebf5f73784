"""Wire shapes for enrolment and the registrar's view of a person."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from services.identity.persons.models import PersonStatus
from services.identity.persons.uin import find_uins


class Sex(StrEnum):
    """Inclusive and optional (SG-GENDER-1): omit the field entirely unless the law requires it."""

    female = "female"
    male = "male"
    intersex = "intersex"
    other = "other"
    undisclosed = "undisclosed"


class ResidencyStatus(StrEnum):
    """Enrolment never depends on citizenship (SG-NONDISC-1)."""

    citizen = "citizen"
    resident = "resident"
    refugee = "refugee"
    stateless = "stateless"
    unknown = "unknown"


def _holds_no_uin(name: str) -> str:
    """A name may not hold a number written like a UIN: it would travel in the offline credential (which must never
    carry a UIN) and in every release of the name. Refused at enrolment and correction, never a 500 later."""
    if find_uins(name):
        raise ValueError("a name may not contain a number shaped like a UIN (12 digits with a valid check digit)")
    return name


Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_holds_no_uin)
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()-]{4,24}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]


class Demographics(BaseModel):
    """The personal fields of an identity record. Each is stored encrypted, field by field."""

    given_name: Name | None = Field(default=None, description="In any script.", examples=["Amara"])
    family_name: Name | None = Field(default=None, description="In any script.", examples=["Okafor"])
    full_name: Name | None = Field(
        default=None, description="In any script; for mononyms or where given/family do not apply.", examples=[None]
    )
    date_of_birth: date = Field(examples=["1990-04-12"])
    sex: Sex | None = Field(default=None, description="Optional.")
    residency_status: ResidencyStatus = ResidencyStatus.unknown
    nationality: CountryCode | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 or alpha-3; optional (stateless people have none).",
        examples=[None],
    )
    address: Address | None = None
    phone: Phone | None = Field(default=None, description="For notices.", examples=["+000 555 0100"])
    email: Email | None = Field(default=None, description="For notices.")
    preferred_language: Language | None = Field(default=None, description="BCP 47 tag.", examples=["en"])


PERSONAL_FIELDS: tuple[str, ...] = tuple(Demographics.model_fields)
NAME_FIELDS = ("given_name", "family_name", "full_name")


def validate_personal_field(field: str, value: Any) -> str | None:
    """Validate one field's value by the enrolment rules; returns its stored text form (None clears it)."""
    annotation = Demographics.model_fields[field].annotation
    assert annotation is not None, "every personal field is annotated"
    parsed = TypeAdapter(annotation).validate_python(value)
    if parsed is None:
        return None
    return parsed.isoformat() if isinstance(parsed, date) else str(parsed)


def stored_form(demographics: Demographics) -> dict[str, str | None]:
    """Every personal field as the text that is encrypted (None where absent)."""
    values = demographics.model_dump(mode="json", include=set(PERSONAL_FIELDS))
    return {name: None if values[name] is None else str(values[name]) for name in PERSONAL_FIELDS}


class EnrolmentConsents(BaseModel):
    biometric: bool = Field(
        default=False,
        description="The person agrees to central storage of a keyed hash of their biometric template (SG-INCL-2). "
        "Without it no biometric is stored or used for deduplication.",
    )
    notices: bool = Field(default=False, description="The person agrees to notices by phone or e-mail.")


class EnrolmentCreate(Demographics):
    model_config = ConfigDict(extra="forbid")

    biometric_template: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        repr=False,
        description="The sandbox's synthetic stand-in for a biometric template; only a keyed hash is kept, and only "
        "with biometric consent.",
    )
    consents: EnrolmentConsents = Field(default_factory=EnrolmentConsents)
    issue_vid: bool = Field(
        default=False,
        description="Also issue a first VID for the enrolment slip, so the person can sign in and be named without "
        "their UIN.",
    )

    @model_validator(mode="after")
    def _has_a_name(self) -> EnrolmentCreate:
        if not any(getattr(self, name) for name in NAME_FIELDS):
            raise ValueError("give at least one of given_name, family_name or full_name")
        return self


class EnrolmentResult(BaseModel):
    """A registrar's view of a completed enrolment: the only response besides GET /v1/persons that holds a UIN."""

    person_id: str
    sub: str = Field(description="The internal subject reference for the sandbox's trusted services.")
    uin: str | None = Field(description="The foundational number; issued once no duplicate is suspected.")
    status: PersonStatus
    biometric_enrolled: bool = Field(description="Whether a biometric hash was stored (needs consent).")
    vid: str | None = Field(default=None, description="The first VID, when `issue_vid` asked for one.")


class PersonRead(Demographics):
    """A registrar's view of a person: decrypted demographics and the UIN."""

    id: str
    sub: str
    status: PersonStatus
    uin: str | None
    consents: EnrolmentConsents
    biometric_enrolled: bool
    duplicate_of: str | None = Field(description="For a refused duplicate: the person it duplicates.")
    created_at: datetime
    updated_at: datetime


class MyRecord(Demographics):
    """What identity holds about the person asking: their decrypted demographics and consents, never the UIN (it
    is on their enrolment slip; no endpoint but the registrar's returns it)."""

    status: PersonStatus
    consents: EnrolmentConsents
    biometric_enrolled: bool = Field(description="Whether a keyed hash of a biometric template is stored.")
    uin_issued_at: datetime | None
    created_at: datetime
    updated_at: datetime

"""Wire shapes shared by the registries' endpoints and the exchange's client for them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SUBJECT_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"  # a subject reference, in a path or a body
MAX_FIELDS = 40  # fields a record read may name
Sub = Annotated[str, StringConstraints(pattern=SUBJECT_PATTERN)]
Place = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Sex = Literal["female", "male", "intersex", "other", "undisclosed"]
IncomeBand = Literal["none", "very_low", "low", "middle", "high"]
Relationship = Literal["head", "spouse", "child", "other"]


class ParentRef(BaseModel):
    relation: Literal["mother", "father", "parent"]
    subject: str


class CivilRecord(BaseModel):
    """A person as the civil registry knows them; only the fields asked for are present."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    place_of_birth: str | None = None
    ethnicity: str | None = Field(default=None, description="A protected attribute (SG-NONDISC-1).")
    vital_status: Literal["alive", "deceased"] | None = None
    date_of_death: date | None = None
    marital_status: str | None = None
    parents: list[ParentRef] | None = None


class HouseholdRecord(BaseModel):
    """A person's household as the social registry knows it; only the fields asked for are present."""

    household_id: str | None = None
    household_size: int | None = None
    head_of_household: bool | None = None
    income_band: str | None = None
    disability_flag: bool | None = Field(default=None, description="A protected attribute (SG-NONDISC-1).")
    district: str | None = None
    region: str | None = None
    children_under_5: int | None = None
    members_over_65: int | None = None


class ProviderRecord(BaseModel):
    """A provider's answer: the subject and the fields of its record that were asked for."""

    subject: str
    record: dict[str, object]


class BirthCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Sub = Field(description="The child's internal subject reference.")
    given_name: Name
    family_name: Name
    date_of_birth: date
    sex: Sex | None = None
    place_of_birth: Place
    ethnicity: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    mother: Sub | None = None
    father: Sub | None = None


class BirthRead(BaseModel):
    id: str
    subject: str
    registered_at: datetime


class DeathCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Sub
    date_of_death: date
    place_of_death: Place


class DeathRead(BaseModel):
    id: str
    subject: str
    date_of_death: date
    registered_at: datetime


class MarriageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spouse_a: Sub
    spouse_b: Sub
    date_of_marriage: date
    place: Place


class MarriageRead(BaseModel):
    id: str
    spouse_a: str
    spouse_b: str
    date_of_marriage: date
    registered_at: datetime


class HouseholdMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Sub
    relationship: Relationship
    date_of_birth: date
    disability_flag: bool = False


class HouseholdPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    income_band: IncomeBand
    district: Place
    region: Place
    members: list[HouseholdMemberIn] = Field(min_length=1, max_length=40)


class HouseholdRead(BaseModel):
    id: str
    income_band: str
    district: str
    region: str
    members: list[HouseholdMemberIn]
    updated_at: datetime

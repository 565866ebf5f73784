"""Wire shapes of correction cases."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, ValidationInfo, field_validator

from services.common.paging import Page
from services.identity.corrections.models import CorrectionStatus
from services.identity.persons.schemas import PERSONAL_FIELDS, validate_personal_field


class CorrectableField(StrEnum):
    given_name = "given_name"
    family_name = "family_name"
    full_name = "full_name"
    date_of_birth = "date_of_birth"
    sex = "sex"
    residency_status = "residency_status"
    nationality = "nationality"
    address = "address"
    phone = "phone"
    email = "email"
    preferred_language = "preferred_language"


assert tuple(CorrectableField) == PERSONAL_FIELDS, "every personal field, and only those, can be corrected"


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: CorrectableField = Field(description="The personal field to correct.")
    value: str | None = Field(
        max_length=500,  # the longest enrolment field (the address); each field's own rule applies below
        description="The correct value, validated like enrolment (a date for date_of_birth, ...); null clears an "
        "optional field.",
        examples=["Okafor-Nwosu"],
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = Field(
        examples=["My family name was misspelt at enrolment."]
    )

    @field_validator("value")
    @classmethod
    def _value_fits_field(cls, value: str | None, info: ValidationInfo) -> str | None:
        field = info.data.get("field")
        if field is None:
            return value  # the field itself is invalid and reported
        try:
            return validate_personal_field(field.value, value)
        except ValidationError as error:
            raise ValueError(f"not a valid {field.value}: {error.errors()[0]['msg']}") from None


class CorrectionRead(BaseModel):
    id: str
    field: str
    value: str | None
    reason: str
    status: CorrectionStatus
    channel: str
    created_at: datetime
    due_at: datetime = Field(description="When the SLA runs out; an undecided case past it is overdue.")
    overdue: bool
    escalated_at: datetime | None
    decided_at: datetime | None


class CorrectionCaseRead(CorrectionRead):
    """The registrar's view: also which person the case is about."""

    person_id: str


class CorrectionPage(Page[CorrectionCaseRead]):
    """A page of correction cases, oldest first."""


class MyCorrectionPage(Page[CorrectionRead]):
    """A page of my own correction cases, oldest first."""


class CorrectionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    confirmed_distinct: bool = Field(
        default=False,
        description="Approving a change of name or date of birth that makes the record match other enrolled people "
        "(as deduplication matches them) is refused with 409 (SG-ID-1) unless the registrar has checked that they "
        "are different people and says so here. The confirmation is recorded in the decision's event.",
    )


class EscalationResult(BaseModel):
    escalated: list[str] = Field(description="Ids of the cases escalated by this run.")

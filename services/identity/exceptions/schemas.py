"""Wire shapes of identity exception cases. No read shape ever carries the evidence, the claims or a UIN."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.paging import Page
from services.common.problems import Grievance
from services.identity.exceptions.models import ExceptionStatus

PurposeCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class EvidenceType(StrEnum):
    alternative_document = "alternative_document"
    community_attestation = "community_attestation"
    assisted_attestation = "assisted_attestation"
    other = "other"


class ExceptionCaseCreate(BaseModel):
    """A person who cannot present a UIN or VID asks to be identified by alternative evidence for one purpose."""

    model_config = ConfigDict(extra="forbid")

    purpose: PurposeCode = Field(description="The essential service's purpose code.", examples=["SOCIAL_CASH_TRANSFER"])
    evidence_type: EvidenceType
    evidence_reference: ShortText = Field(
        description="What identifies the evidence, e.g. a document number. Encrypted at rest; never returned.",
        examples=["BC-2019-004411"],
    )
    claimed_name: ShortText | None = Field(default=None, description="Encrypted at rest; never returned.")
    claimed_date_of_birth: date | None = Field(default=None, description="Encrypted at rest; never returned.")
    contact: ShortText | None = Field(
        default=None, description="Phone or e-mail for the notices about this case. Encrypted at rest; never returned."
    )


class ExceptionCaseAccepted(BaseModel):
    """202: the request is in the exception path; an officer will verify the evidence."""

    case_id: str
    status: ExceptionStatus
    sla_due_at: datetime = Field(description="When an officer should have decided (sandbox SLA, default 5 days).")
    status_href: str = Field(description="Where to follow the case.")
    grievance: Grievance


class ExceptionOutcome(BaseModel):
    decision: Literal["verified", "rejected"]
    reason: str
    decided_at: datetime
    linked: bool = Field(description="Whether the officer linked the case to an enrolled person.")


class ExceptionCaseRead(BaseModel):
    id: str
    status: ExceptionStatus
    purpose: str
    evidence_type: EvidenceType
    channel: str
    requested_by: str
    assisted_by: str | None
    created_at: datetime
    sla_due_at: datetime
    overdue: bool = Field(description="Pending past its SLA.")
    outcome: ExceptionOutcome | None
    person_token: str | None = Field(
        default=None,
        description="Only for the client that opened the case, when verified and linked: that client's own "
        "pairwise token for the person (never a UIN).",
    )
    person_id: str | None = Field(default=None, description="Registrars only: the linked person.")


class ExceptionCasePage(Page[ExceptionCaseRead]):
    """A page of the exception queue, oldest first."""


class ExceptionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["verified", "rejected"]
    reason: LongText = Field(examples=["Birth certificate checked against the civil register."])
    person_id: str | None = Field(
        default=None,
        max_length=64,
        description="With `verified` only: an enrolled person the officer found. Without it the person is "
        "identified for this purpose by the alternative evidence alone.",
    )

    @model_validator(mode="after")
    def _link_only_when_verified(self) -> ExceptionDecision:
        if self.person_id is not None and self.decision != "verified":
            raise ValueError("person_id is only allowed with decision=verified")
        return self

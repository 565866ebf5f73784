"""Wire shapes of the purpose registry (SG-PURPOSE-1, SG-HRIA-1, SG-NONDISC-1)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.consent.vocabulary import (
    ClientId,
    DataItem,
    DpvLegalBasis,
    DpvPurpose,
    Language,
    PurposeCode,
    Reference,
)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PurposeStatus(StrEnum):
    draft = "draft"  # recorded, not usable: the gateway treats it as unknown (SG-PURPOSE-1)
    active = "active"  # approved by oversight (SG-HRIA-1)
    suspended = "suspended"  # paused by oversight; decisions deny, artefacts stay
    retired = "retired"  # final


# Attributes that are never used for eligibility or shared by default (SG-NONDISC-1): a purpose may list one among
# its allowed items only with the legal reference that requires it.
PROTECTED_ATTRIBUTES = frozenset(
    {
        "religion", "ethnicity", "race", "caste", "tribe", "political_opinion", "sexual_orientation",
        "gender_identity", "sex", "disability", "nationality", "residency_status",
    }
)  # fmt: skip


class PurposeText(BaseModel):
    """The plain-language notice of a purpose in one language."""

    model_config = ConfigDict(extra="forbid")

    title: Title = Field(examples=["Social cash transfer eligibility"])
    description: Text = Field(
        examples=["The Social Protection Agency checks your household's income band to decide whether you qualify."]
    )


class Statute(BaseModel):
    """A law under which the purpose may be served without consent, and the bodies it empowers."""

    model_config = ConfigDict(extra="forbid")

    reference: Reference = Field(examples=["Social Protection Act 2024, s. 12(3)"])
    title: Title | None = None
    requesters: list[ClientId] = Field(
        min_length=1, max_length=50, description="The clients the law names; only they may rely on it."
    )


class LegallyRequiredItem(BaseModel):
    """A protected attribute among the allowed items, with the law that requires it (SG-NONDISC-1)."""

    model_config = ConfigDict(extra="forbid")

    item: DataItem = Field(examples=["residency_status"])
    legal_reference: Reference = Field(examples=["Refugee Assistance Act 2021, s. 4"])


class PurposeCreate(BaseModel):
    """A new purpose, recorded as a draft until oversight approves it (SG-HRIA-1)."""

    model_config = ConfigDict(extra="forbid")

    code: PurposeCode = Field(examples=["SOCIAL_CASH_TRANSFER"])
    texts: dict[Language, PurposeText] = Field(
        min_length=1,
        description="Plain-language notice per UN language (ar, zh, en, fr, ru, es). A language missing here falls "
        "back visibly: the response names the language it fell back to.",
    )
    dpv_purpose: DpvPurpose = Field(description="The W3C DPV purpose term.")
    legal_basis: DpvLegalBasis = Field(description="The W3C DPV legal basis term.")
    essential: bool = Field(
        description="An essential service (a benefit, a payment) or an optional use. Optional uses are never bundled "
        "with essential ones (SG-CONSENT-6)."
    )
    allowed_items: list[DataItem] = Field(min_length=1, max_length=100, description="The data items it may use.")
    legally_required: list[LegallyRequiredItem] = Field(
        default_factory=list,
        max_length=20,
        description="For each protected attribute among the allowed items, the law that requires it (SG-NONDISC-1).",
    )
    max_validity_days: int = Field(ge=1, le=3650, description="The longest a consent for it may last (SG-CONSENT-5).")
    max_data_life_days: int = Field(
        ge=0, le=3650, description="The longest data obtained for it may be kept (SG-RETAIN-1)."
    )
    ekyc_allowed: bool = Field(default=False, description="Whether it may receive eKYC attributes (SG-MIN-2).")
    statutes: list[Statute] = Field(default_factory=list, max_length=20)
    dpia_ref: Reference | None = Field(
        default=None, description="The data protection impact assessment (required, SG-HRIA-1)."
    )
    hria_ref: Reference | None = Field(
        default=None, description="The human-rights impact assessment (required, SG-HRIA-1)."
    )


class PurposeApproval(BaseModel):
    """Oversight's approval of a draft purpose's impact assessments (SG-HRIA-1)."""

    model_config = ConfigDict(extra="forbid")

    dpia_ref: Reference = Field(description="The assessment approved; must match the purpose's.")
    hria_ref: Reference = Field(description="The assessment approved; must match the purpose's.")
    note: Text | None = None


class PurposeStatusChange(BaseModel):
    """Oversight suspends, resumes or retires an approved purpose."""

    model_config = ConfigDict(extra="forbid")

    status: PurposeStatus = Field(description="`suspended`, `active` (resume a suspended one) or `retired`.")
    reason: Text


class Notice(BaseModel):
    """The purpose's text in the language asked for, or visibly in another one."""

    language: Language = Field(description="The language of `title` and `description`.")
    requested_language: str = Field(description="The language asked for (query `language`, else Accept-Language).")
    fell_back: bool = Field(description="True when the requested language has no text and `language` is another.")
    title: str
    description: str


class PurposeRead(BaseModel):
    code: str
    version: int = Field(description="Grows with every change of the record.")
    status: PurposeStatus
    notice: Notice
    texts: dict[Language, PurposeText]
    missing_languages: list[Language] = Field(description="UN languages with no text yet.")
    dpv_purpose: DpvPurpose
    legal_basis: DpvLegalBasis
    essential: bool
    allowed_items: list[str]
    legally_required: list[LegallyRequiredItem]
    max_validity_days: int
    max_data_life_days: int
    ekyc_allowed: bool
    statutes: list[Statute]
    dpia_ref: str
    hria_ref: str
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PurposeList(BaseModel):
    items: list[PurposeRead]

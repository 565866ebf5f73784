"""Wire shapes of consent artefacts and their lifecycle (DEPA / ISO/IEC TS 27560 shape).

The create body types its fields loosely on purpose: what SG-CONSENT-2 requires is checked by the service, so that a
missing field is refused with 422 naming the rule and the field (not a generic validation error), and a wildcard or
a bundle of purposes is refused under SG-CONSENT-3 / SG-CONSENT-6 rather than as a malformed string.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.paging import Page
from services.consent.purposes.schemas import Notice
from services.consent.vocabulary import (
    CountryCode,
    DpvLegalBasis,
    Duration,
    Frequency,
    Language,
    Link,
    Reference,
    SubjectRef,
)

LooseToken = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\s]+$")]

# The fields SG-CONSENT-2 requires of every artefact (the requester is the authenticated caller).
REQUIRED_FIELDS = ("subject", "purpose", "data_items", "expires_at", "data_life", "jurisdiction", "revoke_url",
                   "grievance_url")  # fmt: skip


class ConsentStatus(StrEnum):
    """The lifecycle: requested → granted | denied; granted → revoked | expired (DPV ConsentStatus in brackets)."""

    requested = "requested"  # dpv:ConsentRequested
    granted = "granted"  # dpv:ConsentGiven
    denied = "denied"  # dpv:ConsentRefused
    revoked = "revoked"  # dpv:ConsentWithdrawn
    expired = "expired"  # dpv:ConsentExpired


DPV_STATUS = {
    ConsentStatus.requested: "dpv:ConsentRequested",
    ConsentStatus.granted: "dpv:ConsentGiven",
    ConsentStatus.denied: "dpv:ConsentRefused",
    ConsentStatus.revoked: "dpv:ConsentWithdrawn",
    ConsentStatus.expired: "dpv:ConsentExpired",
}


class ConsentRequestCreate(BaseModel):
    """A requester asks a subject for consent; the artefact starts `requested` until the subject answers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"required": list(REQUIRED_FIELDS)},
    )

    subject: SubjectRef | None = Field(default=None, description="The subject's internal reference (`sub`).")
    purpose: LooseToken | list[LooseToken] | None = Field(
        default=None,
        description="One registered purpose code. A list of several is refused: one purpose per artefact "
        "(SG-CONSENT-3), and never an optional use bundled with an essential one (SG-CONSENT-6).",
        examples=["SOCIAL_CASH_TRANSFER"],
    )
    data_items: list[LooseToken] | None = Field(
        default=None,
        max_length=100,
        description="The enumerated data items, each allowed by the purpose; no wildcard (SG-CONSENT-3).",
        examples=[["household_income_band", "household_size"]],
    )
    valid_from: datetime | None = Field(default=None, description="Start of validity; default: now.")
    expires_at: datetime | None = Field(
        default=None, description="End of validity, within the purpose's maximum (SG-CONSENT-5)."
    )
    data_life: Duration | None = Field(
        default=None,
        description="How long the requester may keep data obtained under it, within the purpose's maximum "
        "(SG-RETAIN-1).",
    )
    frequency: Frequency | None = Field(default=None, description="At most this many uses per calendar period.")
    use_count: int | None = Field(default=None, ge=1, le=1_000_000, description="At most this many uses in all.")
    jurisdiction: list[CountryCode] | None = Field(
        default=None,
        max_length=20,
        description="Where the data may be processed (ISO 3166-1 alpha-2). A jurisdiction outside the approved "
        "list needs a `transfer_basis` (SG-XBORDER-1).",
        examples=[["XS"]],
    )
    transfer_basis: Reference | None = Field(
        default=None, description="The lawful basis for processing outside the approved jurisdictions."
    )
    revoke_url: Link | None = Field(default=None, examples=["/me/consents"])
    grievance_url: Link | None = Field(default=None, examples=["/me/grievances"])
    language: Language | None = Field(
        default=None, description="The language of the notice the subject sees; default: Accept-Language, then en."
    )


class ConsentEventRead(BaseModel):
    """One change of an artefact: who, when, through which channel (ISO/IEC TS 27560 events)."""

    seq: int
    status: ConsentStatus
    dpv_status: str
    previous_status: ConsentStatus | None
    at: datetime
    actor: str = Field(description="The client id of the requester, the subject's `sub`, or `consent-service`.")
    actor_type: Literal["requester", "subject", "system"]
    channel: str
    assisted_by: str | None = Field(description="On the assisted channel: the operator who helped.")
    subject_confirmed: bool = Field(
        description="The subject authenticated this change themselves (on the assisted channel too)."
    )
    receipt_id: str


class ConsentRead(BaseModel):
    """A consent artefact as the subject and the requester see it."""

    id: str
    version: int = Field(description="Grows with every state change; decisions report the version they relied on.")
    status: ConsentStatus
    requester: str
    subject: str
    purpose: str
    notice: Notice = Field(description="The purpose's plain-language text the subject was shown.")
    legal_basis: DpvLegalBasis
    essential: bool
    data_items: list[str]
    valid_from: datetime
    expires_at: datetime
    data_life: Duration
    frequency: Frequency | None
    use_count: int | None
    uses: int = Field(description="Permits decided under it so far.")
    last_used_at: datetime | None
    jurisdiction: list[str]
    transfer_basis: str | None
    revoke_url: str
    grievance_url: str
    data_life_until: datetime | None = Field(
        description="The last moment data obtained under it may be kept (see the retention contract)."
    )
    created_at: datetime
    updated_at: datetime
    history: list[ConsentEventRead]


class ConsentPage(Page[ConsentRead]):
    """A page of artefacts, newest first."""


class ConsentEventPayload(BaseModel):
    """The body of `consent.granted`, `consent.revoked` and `consent.expired` events (documented contract).

    `data_life_until` is the latest moment any payload obtained under the consent may still be kept: on a grant, the
    end of validity plus the data life; on a revocation, the revocation time plus the configured grace period (never
    later than on the grant); on expiry, as on the grant. The exchange keeps each payload until
    min(fetched_at + data life, data_life_until) and purges it then (SG-RETAIN-1).
    """

    consent_id: str
    subject: str
    requester: str
    purpose: str
    items: list[str]
    data_life_until: datetime
    at: datetime

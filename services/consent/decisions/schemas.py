"""Wire shapes of the gateway's question "is this use covered?" and the consent service's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.consent.consents.schemas import LooseToken
from services.consent.vocabulary import ClientId, CountryCode, DataItem, SubjectRef

USE_RECEIPT_TYPE = "consent-use+jwt"
USE_RECEIPT_ISSUER = "consent"


class DecisionRequest(BaseModel):
    """Asked by the gateway before a provider is called: may `requester` use `items` of `subject` for `purpose`?"""

    model_config = ConfigDict(extra="forbid")

    requester: ClientId = Field(examples=["rp-social-agency"])
    subject: SubjectRef = Field(description="The subject's internal reference (`sub`).")
    purpose: LooseToken = Field(examples=["SOCIAL_CASH_TRANSFER"])
    items: list[DataItem] = Field(min_length=1, max_length=100, examples=[["household_income_band"]])
    processing_location: CountryCode | None = Field(
        default=None, description="Where the requester processes data (SG-XBORDER-1); omitted: not checked."
    )
    at: datetime | None = Field(
        default=None, description="The moment of the use; default now, and at most a few minutes from now."
    )
    use_receipt: bool = Field(
        default=False,
        description="Also answer a permit with a signed data-use receipt bound to this purpose (SG-PURPOSE-2).",
    )
    dry_run: bool = Field(
        default=False,
        description="Only evaluate (the gateway's `POST /governance/decide`): the same outcome a real decision would "
        "reach now, but no use is taken, nothing is written and no use receipt is signed.",
    )


class Decision(BaseModel):
    """A permit with what it covers, or a deny naming its rule. A deny is an answer (200), not an error."""

    decision: Literal["permit", "deny"]
    decision_id: str
    consent_id: str | None = Field(description="The artefact relied on (null for a statute or a deny without one).")
    artefact_version: int | None
    covered_items: list[str] = Field(description="The requested items the basis covers; release nothing else.")
    purpose: str
    legal_basis: Literal["consent", "statute"] | None
    statute: str | None = Field(default=None, description="With legal_basis statute: the law relied on.")
    rule_id: str | None = Field(description="On a deny: the safeguard rule (SG-CONSENT-1, SG-CONSENT-4, ...).")
    detail: str | None
    valid_until: datetime | None = Field(description="The artefact's end of validity.")
    data_life_until: datetime | None = Field(
        default=None, description="Keep what this use obtains no later than this (SG-RETAIN-1)."
    )
    uses_remaining: int | None = Field(default=None, description="With a use count: uses left after this one.")
    dry_run: bool = Field(default=False, description="True: an evaluation only; no use was taken.")
    use_receipt: str | None = Field(
        default=None,
        description="On a permit asked with `use_receipt`: a compact JWS (`typ` consent-use+jwt, ES256, the consent "
        "service's key) with iss `consent`, aud the requester, sub, purpose, items, consent_id, decision_id, "
        "legal_basis, iat and exp (= data_life_until). A downstream service refuses it for any other purpose "
        "(SG-PURPOSE-2); see ConsentClient.verify_use_receipt.",
    )

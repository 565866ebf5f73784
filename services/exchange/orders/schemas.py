"""Wire shapes of the court-order registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.clock import Instant
from services.common.paging import Page
from services.exchange.members.schemas import FieldName


class CourtOrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="The court's own case reference."
    )
    court: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    subject: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = Field(
        description="The internal subject reference of the person the order concerns."
    )
    member_id: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="The law-enforcement member (class LAW) the order authorises."
    )
    services: list[Annotated[str, StringConstraints(min_length=1, max_length=240)]] = Field(min_length=1, max_length=20)
    fields: list[FieldName] = Field(min_length=1, max_length=100)
    expires_at: Instant
    disclose_after: Instant | None = Field(
        default=None,
        description="Until when the subject's access log withholds the accesses made under this order "
        "(SG-ACCESS-2); at most the policy maximum after today. None: visible at once.",
    )


class CourtOrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str
    court: str
    subject: str
    member_id: str
    services: list[str]
    fields: list[str]
    issued_at: datetime
    expires_at: datetime
    disclose_after: datetime | None
    recorded_by: str
    revoked_at: datetime | None


class CourtOrderPage(Page[CourtOrderRead]):
    """Court orders, oldest first."""

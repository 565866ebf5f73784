"""Wire shapes of a fetch through the exchange."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.exchange.members.schemas import FieldName

MESSAGE_ID_HEADER = "X-DPI-Message-Id"
REQUEST_HASH_HEADER = "X-DPI-Request-Hash"  # as X-Road-Request-Hash: what the message log recorded


class FetchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Annotated[str, StringConstraints(min_length=1, max_length=240)] = Field(
        examples=["SBX:GOV:MSW:social-registry:household-record:v1"]
    )
    fields: list[FieldName] | None = Field(
        default=None, max_length=100, description="The fields wanted; none means every field the caller may receive."
    )
    retain: bool = Field(
        default=False,
        description="Keep the answer at the exchange for this consumer until its retention ends (SG-RETAIN-1); "
        "read it back at /v1/stored-payloads/{id}.",
    )


class Withheld(BaseModel):
    field: str
    rule_id: str = Field(
        description="Why it was withheld: SG-MIN-1 (not permitted or not covered), SG-NONDISC-1 "
        "(a protected attribute no law requires for this purpose), SG-LAWFUL-1 (outside the order)."
    )


class StoredPayloadRef(BaseModel):
    id: str
    retain_until: datetime


class FetchResult(BaseModel):
    message_id: str = Field(description="The exchange's id for this request/response pair in its message log.")
    service: str
    subject: str
    purpose: str
    legal_basis: str
    fields_returned: list[str]
    withheld: list[Withheld]
    record: dict[str, object]
    stored_payload: StoredPayloadRef | None = None
    disclose_after: datetime | None = Field(default=None, description="Under a court order: SG-ACCESS-2 deferral.")

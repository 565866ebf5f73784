"""Wire shapes of disbursement batches, their items and the pain.002 status report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.payments.bulk.models import BatchState, FailureReason, ItemStatus
from services.payments.ledger.schemas import SubRef
from services.payments.mapper.schemas import PaymentAddress
from services.payments.money import AmountText, Currency

MessageId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./:_-]{0,34}$", description="Max35Text, unique.")]
EndToEndId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./:_-]{0,34}$")]


class BatchItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_ref: SubRef = Field(description="The beneficiary's `sub` (never account details: the mapper resolves).")
    amount: AmountText
    end_to_end_id: EndToEndId | None = Field(default=None, description="Defaults to the item's position (1, 2, ...).")


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: MessageId
    debtor: PaymentAddress = Field(description="The programme's funding account.")
    currency: Currency
    control_sum: AmountText | None = Field(default=None, description="If given, must equal the sum of the items.")
    items: list[BatchItemIn] = Field(min_length=1)


class BatchRead(BaseModel):
    batch_id: str
    message_id: str
    format: str
    state: BatchState
    currency: str
    item_count: int
    control_sum: str
    paid_count: int
    paid_sum: str
    failed_count: int
    pending_count: int
    progress: float = Field(description="Share of items paid or failed, 0 to 1.")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class ItemRead(BaseModel):
    seq: int
    end_to_end_id: str
    person_ref: str
    amount: str
    status: ItemStatus
    reason: FailureReason | None
    account_id: str | None
    completed_at: datetime | None


class ItemPage(BaseModel):
    items: list[ItemRead]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last.")

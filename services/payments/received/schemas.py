"""Wire shapes of a person's received payments."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from services.common.paging import Page
from services.payments.money import Money


class PaymentKind(StrEnum):
    transfer = "transfer"  # a single transfer into one of the person's accounts
    disbursement = "disbursement"  # an item of a programme's bulk G2P batch paid to the person


class ReceivedState(StrEnum):
    pending = "pending"  # a transfer reserved and not yet fulfilled, or a batch item not yet run
    paid = "paid"  # committed: the money is in the account
    failed = "failed"  # aborted, expired or refused: nothing was credited (`reason` says why)


class ReceivedPayment(BaseModel):
    payment_id: str = Field(description="The transfer's id, or `<batch id>:<item seq>` for a disbursement item.")
    kind: PaymentKind
    amount: Money
    state: ReceivedState
    reason: str | None = Field(description="Why it failed: the transfer's abort reason or the item's failure reason.")
    payer_fsp: str | None = Field(description="The payer's FSP (transfers; the payer's own address is not shown).")
    programme: str | None = Field(description="The programme that paid (disbursements).")
    account_id: str | None = Field(description="Which of my accounts it went to (none if it could not be resolved).")
    fsp_id: str | None
    address: str | None
    initiated_at: datetime = Field(description="When the transfer was prepared or the batch received; the order.")
    completed_at: datetime | None
    transaction_id: str = Field(
        description="What `/payments/v1/payments/{transaction_id}/records` and `/disputes` take."
    )
    record_id: str | None = Field(
        description="The signed record of its latest step (for an item: the chunk that paid or failed it) — what a "
        "dispute links to (SG-GRIEV-4)."
    )


class ReceivedPage(Page[ReceivedPayment]):
    pass

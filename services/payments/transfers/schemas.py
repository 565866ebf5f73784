"""Wire shapes of party lookup, quotes and transfers (Mojaloop FSPIOP's, in this API's snake_case)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.common.clock import Instant
from services.payments.ledger.models import AccountKind
from services.payments.mapper.schemas import PaymentAddress
from services.payments.money import Money
from services.payments.transfers.models import AbortReason, TransferState

ResourceId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Chosen by the caller (Mojaloop: a UUID); the same id again with the same body is a replay.",
        examples=["0196f1c2-7b9e-7d3a-9c4e-2a1b3c4d5e6f"],
    ),
]
Ilp32 = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_-]{43}$", description="32 bytes, base64url without padding (ILP's encoding)."),
]


class PartyIdType(StrEnum):
    MSISDN = "MSISDN"  # a mobile wallet's phone number
    PERSONAL_ID = "PERSONAL_ID"  # a person's `sub` (the gateway translates what the caller presented)
    ALIAS = "ALIAS"  # a payments-sector token


class Party(BaseModel):
    """Who would be paid: the FSP and address only. No name is returned (minimisation)."""

    party_id_type: PartyIdType
    party_identifier: str
    fsp_id: str
    address: str
    account_kind: AccountKind


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quote_id: ResourceId
    payer: PaymentAddress
    payee: PaymentAddress
    amount: Money = Field(description="What the payee receives; the payer pays it plus the fee.")


class QuoteRead(BaseModel):
    quote_id: str
    payer: PaymentAddress
    payee: PaymentAddress
    transfer_amount: Money = Field(description="What moves to the payee.")
    payer_fee: Money = Field(description="The payer FSP's fee, debited from the payer on top.")
    payer_total: Money
    condition: Ilp32 = Field(description="SHA-256 of the payee FSP's fulfilment; the transfer must carry it.")
    expiration: datetime


class TransferPrepare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfer_id: ResourceId
    quote_id: ResourceId | None = Field(default=None, description="With a quote: its fee, condition and expiry apply.")
    payer: PaymentAddress
    payee: PaymentAddress
    amount: Money
    condition: Ilp32
    expiration: Instant | None = Field(
        default=None, description="With its UTC offset; earlier than the scheme's longest timeout, if set."
    )


class TransferFulfil(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fulfilment: Ilp32 = Field(description="The preimage whose SHA-256 is the transfer's condition.")


class TransferAbort(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="rejected by the payee FSP", min_length=1, max_length=200)


class TransferRead(BaseModel):
    transfer_id: str
    quote_id: str | None
    state: TransferState
    abort_reason: AbortReason | None
    payer: PaymentAddress
    payee: PaymentAddress
    amount: Money
    payer_fee: Money
    condition: str
    fulfilment: str | None
    expiration: datetime
    created_at: datetime
    completed_at: datetime | None

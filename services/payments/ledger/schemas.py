"""Wire shapes of the ledger: participants, accounts, postings and the zero-sum check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.payments.ledger.models import AccountKind, AccountStatus, ParticipantKind, PostingState
from services.payments.money import AmountText, Currency, SignedMoney

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", examples=["bank-a"])]
AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._+-]{0,119}$", examples=["bank-a:acc:1001"])]
Address = Annotated[str, Field(pattern=r"^[A-Za-z0-9+][A-Za-z0-9+._-]{0,63}$", examples=["1001", "+000555123"])]
PostingId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,95}$", examples=["fund-2026-01-01"])]
SubRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:.-]+$")]


class ParticipantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    name: str = Field(min_length=1, max_length=200)
    kind: ParticipantKind
    client_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="The gateway client that acts as this FSP."
    )


class ParticipantRead(BaseModel):
    id: str
    name: str
    kind: ParticipantKind
    client_id: str | None
    created_at: datetime


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: Slug
    kind: AccountKind
    address: Address
    currency: Currency
    owner_ref: SubRef | None = Field(default=None, description="The holder's `sub`, for a person's account.")
    debit_limit: AmountText = Field(default="0", description="How far below zero the account may go (overdraft).")


class AccountRead(BaseModel):
    id: str
    participant_id: str
    kind: AccountKind
    address: str
    currency: str
    status: AccountStatus
    balance: SignedMoney = Field(description="Posted balance (credits minus debits).")
    available: SignedMoney = Field(description="What may still be debited: balance - pending + limit.")
    pending_debits: SignedMoney
    debit_limit: SignedMoney | None = Field(description="None only for the settlement bank's issuance account.")
    created_at: datetime


class PostingCreate(BaseModel):
    """A one-phase posting by the operator: funding an FSP or a programme, an adjustment."""

    model_config = ConfigDict(extra="forbid")

    id: PostingId = Field(description="Chosen by the caller; posting the same id again answers the first result.")
    debit_account_id: AccountId
    credit_account_id: AccountId
    amount: AmountText
    currency: Currency
    code: Annotated[str, Field(pattern=r"^[a-z_]{1,16}$")] = "adjustment"


class PostingRead(BaseModel):
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: str
    currency: str
    state: PostingState
    code: str
    reference: str | None
    created_at: datetime
    resolved_at: datetime | None


class CurrencyTotals(BaseModel):
    currency: str
    accounts: int
    balance_sum: str = Field(description="Must be 0: every posting credits what it debits.")
    pending_debits: str = Field(description="Held back on accounts; equals pending_postings.")
    pending_postings: str
    journal_mismatches: int = Field(description="Accounts whose balance differs from the sum of their postings.")
    balanced: bool


class LedgerCheck(BaseModel):
    balanced: bool = Field(description="True when every currency sums to zero and agrees with the journal.")
    currencies: list[CurrencyTotals]

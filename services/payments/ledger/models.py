"""The ledger's tables: participants (FSPs and the settlement bank), their accounts, and postings.

The model is TigerBeetle's: an account has posted balance and pending debits; a posting debits one account and
credits another by the same amount, either at once (posted) or in two phases (pending, then posted or voided). The
database, not Python, keeps every account at or above its limit: a CHECK constraint on the account row, and the
conditional UPDATEs of the repository report whether they applied. Posting and accounts share their currency
through a composite foreign key, so a posting cannot move USD into a KES account.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.payments.models import Base


class ParticipantKind(StrEnum):
    bank = "bank"
    mobile_money = "mobile_money"
    settlement_bank = "settlement_bank"


class AccountKind(StrEnum):
    customer = "customer"  # a person's or organisation's account at a bank
    wallet = "wallet"  # a mobile-money wallet (its address is the phone number)
    settlement = "settlement"  # an FSP's reserve at the settlement bank
    fees = "fees"  # where an FSP's fees are credited
    programme = "programme"  # a G2P programme's funding account
    issuance = "issuance"  # the settlement bank's source of money: the only account without a limit
    clearing = "clearing"  # the settlement bank's transit account during settlement


class AccountStatus(StrEnum):
    active = "active"
    closed = "closed"  # credits and debits are refused: a credit to it fails and is reported


class PostingState(StrEnum):
    pending = "pending"
    posted = "posted"
    voided = "voided"


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("id", "currency"),  # the target of the postings' (account, currency) foreign keys
        UniqueConstraint("participant_id", "address"),
        CheckConstraint("debit_limit IS NULL OR balance - pending_debits + debit_limit >= 0", name="within_limit"),
        CheckConstraint("pending_debits >= 0", name="pending_not_negative"),
        CheckConstraint("debit_limit IS NULL OR debit_limit >= 0", name="limit_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64), doc="Account number at the FSP, or a wallet's phone number.")
    currency: Mapped[str] = mapped_column(String(3))
    owner_ref: Mapped[str | None] = mapped_column(String(64), index=True, doc="The holder's `sub`, if a person.")
    status: Mapped[str] = mapped_column(String(16))
    # credits - debits, posted; what pending postings would take away is in pending_debits
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_debits: Mapped[int] = mapped_column(BigInteger, default=0)
    # how far below zero (balance - pending) may go: 0 for most accounts, NULL only for the issuance account
    debit_limit: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (
        ForeignKeyConstraint(["debit_account_id", "currency"], ["accounts.id", "accounts.currency"]),
        ForeignKeyConstraint(["credit_account_id", "currency"], ["accounts.id", "accounts.currency"]),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        Index("ix_postings_debit_account_id", "debit_account_id"),
        Index("ix_postings_credit_account_id", "credit_account_id"),
    )

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    debit_account_id: Mapped[str] = mapped_column(String(120))
    credit_account_id: Mapped[str] = mapped_column(String(120))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(16), doc="What moved the money: transfer, fee, disbursement, ...")
    reference: Mapped[str | None] = mapped_column(
        String(96), doc="The business object it belongs to (not indexed: no query reads postings by it)."
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

"""Quotes and two-phase transfers in Mojaloop's shape: RESERVED, then COMMITTED or ABORTED (rejected or expired)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.payments.models import Base


class TransferState(StrEnum):
    reserved = "reserved"
    committed = "committed"
    aborted = "aborted"


class AbortReason(StrEnum):
    rejected = "rejected"  # the payee FSP (or the payer FSP) declined
    expired = "expired"  # not fulfilled before its expiry: the reservation was released by the timer
    credit_failed = "credit_failed"  # the payee account refused the credit: reversed, the payee notified


class Quote(Base):
    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payer_account_id: Mapped[str] = mapped_column(String(120))
    payee_account_id: Mapped[str] = mapped_column(String(120))
    payer_fsp: Mapped[str] = mapped_column(String(32))
    payee_fsp: Mapped[str] = mapped_column(String(32))
    payer_address: Mapped[str] = mapped_column(String(64))
    payee_address: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    condition: Mapped[str] = mapped_column(String(43))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Transfer(Base):
    __tablename__ = "transfers"
    __table_args__ = (
        # The expiry timer's scan: reserved transfers by expiry.
        Index("ix_transfers_state_expires_at", "state", "expires_at"),
        Index("ix_transfers_window", "window_id", "state"),
        # A person's received payments (/me/payments): transfers into an account, newest first.
        Index("ix_transfers_payee_account_id_created_at", "payee_account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    quote_id: Mapped[str | None] = mapped_column(String(64))
    payer_account_id: Mapped[str] = mapped_column(String(120))
    payee_account_id: Mapped[str] = mapped_column(String(120))
    payer_fsp: Mapped[str] = mapped_column(String(32))
    payee_fsp: Mapped[str] = mapped_column(String(32))
    payer_address: Mapped[str] = mapped_column(String(64))
    payee_address: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    condition: Mapped[str] = mapped_column(String(43))
    fulfilment: Mapped[str | None] = mapped_column(String(43))
    state: Mapped[str] = mapped_column(String(16))
    abort_reason: Mapped[str | None] = mapped_column(String(16))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_id: Mapped[str | None] = mapped_column(String(64), doc="The settlement window it was settled in.")

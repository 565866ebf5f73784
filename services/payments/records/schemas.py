"""Wire shapes of signed records and disputes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.payments.records.models import Step

RECORD_TYPE = "dpi-payment-step+jws"


class SignedStep(BaseModel):
    record_id: str
    transaction_id: str
    kind: str
    step: Step
    record: dict[str, Any] = Field(description="The record; the JWS payload is its RFC 8785 canonical form.")
    jws: str = Field(description=f"Compact ES256 JWS (typ {RECORD_TYPE}); keys at /.well-known/jwks.json.")
    created_at: datetime


class TransactionRecords(BaseModel):
    transaction_id: str
    steps: list[SignedStep]


class DisputeReason(StrEnum):
    not_received = "not_received"
    wrong_amount = "wrong_amount"
    not_authorised = "not_authorised"
    duplicate = "duplicate"
    other = "other"


class DisputeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DisputeReason
    description: str | None = Field(default=None, max_length=1000)


class DisputeRead(BaseModel):
    dispute_id: str
    transaction_id: str
    record_id: str = Field(description="The signed record the dispute is about (the transaction's latest step).")
    record_jws: str
    reason: DisputeReason
    status: str
    grievance_href: str = Field(description="Where the grievance office follows the case up.")
    created_at: datetime

"""Wire shapes of the message log: its entries, its export for offline verification and a verification report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.common.paging import Page


class LogEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str
    seq: int
    message_id: str
    logged_at: datetime
    record: dict[str, Any]
    entry_hash: str
    signature: str


class LogEntryPage(Page[LogEntryRead]):
    """Entries in the log's order: the consumer chain, then the provider chain, each by sequence."""


class LogHeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str
    seq: int
    entry_hash: str
    signature: str | None


class LogExport(BaseModel):
    """Everything `dpi-sandbox exchange verify-log --file` needs, offline: the rows, the heads and the public keys."""

    entries: list[LogEntryRead]
    heads: list[LogHeadRead]
    jwks: dict[str, Any]


class FindingRead(BaseModel):
    chain: str
    seq: int
    kind: str
    detail: str


class VerificationReport(BaseModel):
    ok: bool
    entries: int
    findings: list[FindingRead]

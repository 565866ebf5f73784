"""A person's received payments: single transfers and bulk G2P items, one page at a time, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.paging import InvalidCursor, PageRequest
from services.payments.deps import subject_sub
from services.payments.money import Money
from services.payments.received.repository import ReceivedRepository
from services.payments.received.schemas import PaymentKind, ReceivedPage, ReceivedPayment, ReceivedState

# A transfer's and a batch item's states, in the person's terms.
_STATE = {
    "reserved": ReceivedState.pending, "committed": ReceivedState.paid, "aborted": ReceivedState.failed,
    "pending": ReceivedState.pending, "paid": ReceivedState.paid, "failed": ReceivedState.failed,
}  # fmt: skip


class ReceivedService:
    async def mine(self, session: AsyncSession, caller: Caller, paging: PageRequest) -> ReceivedPage:
        sub = subject_sub(caller)
        rows = await ReceivedRepository.from_session(session).page(
            sub, after=_position(paging.after), limit=paging.limit + 1
        )
        return ReceivedPage.of(
            rows, paging, position=lambda row: f"{row.initiated_at.isoformat()}|{row.payment_id}", item=_read
        )


def _position(after: str | None) -> tuple[datetime, str] | None:
    if after is None:
        return None
    at, separator, payment_id = after.partition("|")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise InvalidCursor() from None
    if not separator or not payment_id or when.tzinfo is None:
        raise InvalidCursor()
    return when, payment_id


def _read(row: Any) -> ReceivedPayment:
    return ReceivedPayment(
        payment_id=row.payment_id, kind=PaymentKind(row.kind), amount=Money.of(row.amount, row.currency),
        state=_STATE[row.state], reason=row.reason, payer_fsp=row.payer_fsp, programme=row.programme,
        account_id=row.account_id, fsp_id=row.fsp_id, address=row.address, initiated_at=row.initiated_at,
        completed_at=row.completed_at, transaction_id=row.transaction_id, record_id=row.record_id,
    )  # fmt: skip


received = ReceivedService()

"""Selects of the receipts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.consent.receipts.models import Receipt


class ReceiptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ReceiptRepository:
        return cls(session)

    async def get_for_subject(self, receipt_id: str, subject: str) -> Receipt | None:
        statement = select(Receipt).where(Receipt.id == receipt_id, Receipt.subject == subject)
        return (await self.session.scalars(statement)).first()

    async def latest_for_consent(self, consent_id: str) -> Receipt | None:
        statement = select(Receipt).where(Receipt.consent_id == consent_id).order_by(Receipt.id.desc()).limit(1)
        return (await self.session.scalars(statement)).first()

    async def page_for_subject(
        self, subject: str, *, consent_id: str | None, before: str | None, limit: int
    ) -> Sequence[Receipt]:
        """Newest first: up to `limit` receipts of `subject` older than the cursor."""
        statement = select(Receipt).where(Receipt.subject == subject).order_by(Receipt.id.desc()).limit(limit)
        if consent_id is not None:
            statement = statement.where(Receipt.consent_id == consent_id)
        if before is not None:
            statement = statement.where(Receipt.id < before)
        return (await self.session.scalars(statement)).all()

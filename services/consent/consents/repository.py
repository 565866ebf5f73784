"""Selects of the consent artefacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.consent.consents.models import Consent, ConsentEvent
from services.consent.consents.schemas import ConsentStatus


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ConsentRepository:
        return cls(session)

    async def get(self, consent_id: str, *, for_update: bool = False) -> Consent | None:
        return await self.session.get(Consent, consent_id, with_for_update=for_update)

    async def history(self, consent_id: str) -> Sequence[ConsentEvent]:
        statement = select(ConsentEvent).where(ConsentEvent.consent_id == consent_id).order_by(ConsentEvent.seq)
        return (await self.session.scalars(statement)).all()

    async def histories(self, consent_ids: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        found: dict[str, list[ConsentEvent]] = {consent_id: [] for consent_id in consent_ids}
        if consent_ids:
            statement = (
                select(ConsentEvent)
                .where(ConsentEvent.consent_id.in_(list(consent_ids)))
                .order_by(ConsentEvent.consent_id, ConsentEvent.seq)
            )
            for event in await self.session.scalars(statement):
                found[event.consent_id].append(event)
        return found

    async def page_for_subject(
        self, subject: str, *, status: ConsentStatus | None, before: str | None, limit: int
    ) -> Sequence[Consent]:
        """Newest first: up to `limit` artefacts of `subject` older than the cursor."""
        statement = select(Consent).where(Consent.subject == subject).order_by(Consent.id.desc()).limit(limit)
        if status is not None:
            statement = statement.where(Consent.status == status)
        if before is not None:
            statement = statement.where(Consent.id < before)
        return (await self.session.scalars(statement)).all()

    async def due_to_expire(self, now: datetime, *, limit: int) -> Sequence[Consent]:
        """Granted or still requested artefacts past their end of validity, locked for this run alone."""
        statement = (
            select(Consent)
            .where(Consent.status.in_([ConsentStatus.granted, ConsentStatus.requested]), Consent.expires_at <= now)
            .order_by(Consent.expires_at, Consent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # concurrent timers (replicas) take disjoint artefacts
        )
        return (await self.session.scalars(statement)).all()

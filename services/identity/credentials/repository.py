"""Selects and writes of the offline credentials' status entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.identity.credentials.models import OfflineCredential


class OfflineCredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> OfflineCredentialRepository:
        return cls(session)

    async def claim_index(
        self, credential_id: str, person_id: str, index: int, *, issued_at: datetime, expires_at: datetime
    ) -> bool:
        """Record a credential on `index`; False if another credential holds that index already."""
        values = {
            "id": credential_id,
            "person_id": person_id,
            "status_index": index,
            "issued_at": issued_at,
            "expires_at": expires_at,
        }
        return await insert_unless_conflict(self.session, table_of(OfflineCredential), values)

    async def of_person(self, person_id: str) -> Sequence[OfflineCredential]:
        statement = (
            select(OfflineCredential).where(OfflineCredential.person_id == person_id).order_by(OfflineCredential.id)
        )
        return (await self.session.scalars(statement)).all()

    async def get(self, credential_id: str) -> OfflineCredential | None:
        return await self.session.get(OfflineCredential, credential_id)

    async def by_index(self, index: int) -> OfflineCredential | None:
        statement = select(OfflineCredential).where(OfflineCredential.status_index == index)
        return (await self.session.scalars(statement)).one_or_none()

    async def revoke(self, credential_id: str, *, at: datetime, by: str) -> bool:
        """Mark the credential revoked unless it already is; True if this call revoked it (one of two racing does)."""
        statement = (
            update(OfflineCredential)
            .where(OfflineCredential.id == credential_id, OfflineCredential.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=by)
            .returning(OfflineCredential.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None

    async def revoked_indices(self) -> Sequence[int]:
        statement = select(OfflineCredential.status_index).where(OfflineCredential.revoked_at.is_not(None))
        return (await self.session.scalars(statement)).all()

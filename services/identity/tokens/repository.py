"""Selects of the tokens domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.tokens.models import PairwiseToken


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> TokenRepository:
        return cls(session)

    async def get(self, relying_party_id: str, token_index: str) -> PairwiseToken | None:
        return await self.session.get(PairwiseToken, (relying_party_id, token_index))

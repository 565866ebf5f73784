"""Every select of the OIDC provider."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.identity.oidc.models import (
    OidcAccessToken,
    OidcAuthorizationCode,
    OidcClient,
    OidcClientAssertion,
    OidcTransaction,
)

# The token endpoint's statements, built once with bound parameters (see the persons repository).
_CODE_FOR_UPDATE = (
    select(OidcAuthorizationCode).where(OidcAuthorizationCode.code_hash == bindparam("code_hash")).with_for_update()
)
_FORGET_EXPIRED_ASSERTIONS = delete(OidcClientAssertion).where(
    OidcClientAssertion.client_id == bindparam("client_id"), OidcClientAssertion.expires_at < bindparam("now")
)


class OidcRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> OidcRepository:
        return cls(session)

    async def client(self, client_id: str) -> OidcClient | None:
        return await self.session.get(OidcClient, client_id)

    async def transaction_for_update(self, transaction_id: str) -> OidcTransaction | None:
        statement = select(OidcTransaction).where(OidcTransaction.id == transaction_id).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def code_for_update(self, code_hash: str) -> OidcAuthorizationCode | None:
        return (await self.session.scalars(_CODE_FOR_UPDATE, {"code_hash": code_hash})).one_or_none()

    async def access_token(self, token_hash: str) -> OidcAccessToken | None:
        return await self.session.get(OidcAccessToken, token_hash)

    async def revoke_tokens_of_code(self, code_hash: str, now: datetime) -> None:
        await self.session.execute(
            update(OidcAccessToken)
            .where(OidcAccessToken.code_hash == code_hash, OidcAccessToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def forget_expired_assertions(self, client_id: str, now: datetime) -> None:
        await self.session.execute(_FORGET_EXPIRED_ASSERTIONS, {"client_id": client_id, "now": now})

    async def remember_assertion(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record a client assertion's jti; False if it is already recorded (a replay)."""
        values = {"client_id": client_id, "jti": jti, "expires_at": expires_at}
        return await insert_unless_conflict(self.session, table_of(OidcClientAssertion), values)

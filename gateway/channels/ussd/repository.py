from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from gateway.channels.ussd.models import UssdSession
from services.common.repository import Repository


class UssdSessionRepository(Repository[UssdSession]):
    model = UssdSession

    async def forget_before(self, moment: datetime) -> None:
        """Delete every session idle since before `moment` (each long ended by the timeout)."""
        await self.session.execute(delete(UssdSession).where(UssdSession.last_seen_at < moment))

    async def save(self, row: UssdSession, *, seen_before: int) -> bool:
        """Write the session's new state, if no other request moved it on meanwhile (the same inputs handled
        twice); False if one did."""
        return await self.update_where(
            UssdSession.client_id == row.client_id,
            UssdSession.session_id == row.session_id,
            UssdSession.inputs_seen == seen_before,
            values={
                "state": row.state, "language": row.language, "inputs_seen": row.inputs_seen, "data": dict(row.data),
                "sub": row.sub, "confirmation": row.confirmation, "last_seen_at": row.last_seen_at,
            },
        )  # fmt: skip

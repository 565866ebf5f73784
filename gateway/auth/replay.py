"""Single-use ids of the gateway's callers (client assertions' and DPoP proofs' `jti`), in the gateway's replay store.

The store is the one every service keeps for assertions (memory, database or Redis, from the settings): with the
database or Redis, two replicas racing on one id cannot both accept it. Ids are scoped by kind and issuer and hashed
to one fixed-length key, so a client cannot collide with another's ids or overflow the column.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from services.common.assertion import ReplayGuard


class SingleUse:
    def __init__(self, guard: ReplayGuard) -> None:
        self._guard = guard

    async def first_use(self, kind: str, issuer: str, jti: str, keep_until: datetime) -> bool:
        key = hashlib.sha256(f"{kind}\x00{issuer}\x00{jti}".encode()).hexdigest()
        return await self._guard.first_use(key, keep_until)

"""Retention of payloads a consumer stored through the exchange (SG-RETAIN-1).

A payload is kept until `retain_until`: at most the service's retention period; a revoked consent brings it forward
to the revocation plus a grace period, an expired consent to its data-life end. The purge job deletes every payload
past its `retain_until` in one statement, keeps the row as its disposition record and queues one
`exchange.payload.purged` event each (ids and reasons only), for the audit trail. Reads after that answer 410.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.db import table_of
from services.common.ids import new_id
from services.exchange.deps import Runtime
from services.exchange.fetch.policy import deny
from services.exchange.retention.errors import PayloadPurged, StoredPayloadNotFound
from services.exchange.retention.models import StoredPayload
from services.exchange.retention.schemas import StoredPayloadRead

PURGED_EVENT = "exchange.payload.purged"
_TABLE = table_of(StoredPayload)


class RetentionService:
    async def store(
        self,
        session: AsyncSession,
        caller: Caller,
        *,
        rt: Runtime,
        consumer_subsystem_id: str,
        message_id: str,
        service_id: str,
        max_retention_days: int,
        fields: list[str],
        payload: dict[str, Any],
    ) -> StoredPayload:
        if max_retention_days <= 0:
            raise deny("SG-RETAIN-1", f"{service_id} allows consumers to store nothing of what it releases.")
        assert caller.subject_ref is not None and caller.purpose is not None
        now = rt.clock.now()
        row = StoredPayload(
            id=new_id("spl"),
            client_id=caller.client_id,
            consumer_subsystem_id=consumer_subsystem_id,
            message_id=message_id,
            service_id=service_id,
            subject=caller.subject_ref,
            purpose=caller.purpose,
            legal_basis=str(caller.legal_basis),
            consent_id=caller.consent_id,
            fields=fields,
            payload=payload,
            stored_at=now,
            retain_until=now + timedelta(days=max_retention_days),
            retain_reason="retention_period",
        )
        session.add(row)
        return row

    async def read(self, session: AsyncSession, caller: Caller, payload_id: str, *, rt: Runtime) -> StoredPayloadRead:
        row = await session.get(StoredPayload, payload_id)
        if row is None or row.client_id != caller.client_id:
            raise StoredPayloadNotFound(f"You have no stored payload {payload_id}.")
        if row.purged_at is not None or row.retain_until <= rt.clock.now():
            raise PayloadPurged(
                f"Payload {payload_id} was kept until {row.retain_until.isoformat()} ({row.retain_reason}) and is "
                "deleted; only its disposition record remains.",
                disposition=row.disposition or row.retain_reason,
            )
        if caller.purpose != row.purpose:
            raise deny(
                "SG-PURPOSE-2",
                f"Payload {payload_id} was obtained for {row.purpose}; it may not be used for "
                f"{caller.purpose or '(no purpose)'}.",
            )
        assert row.payload is not None
        return StoredPayloadRead.model_validate(row)

    async def consent_ended(self, session: AsyncSession, *, consent_id: str, ends_at: datetime, reason: str) -> int:
        """Bring forward the retention of everything stored under `consent_id`; idempotent (the earlier end wins)."""
        statement = (
            update(_TABLE)
            .where(_TABLE.c.consent_id == consent_id, _TABLE.c.purged_at.is_(None), _TABLE.c.retain_until > ends_at)
            .values(retain_until=ends_at, retain_reason=reason)
        )
        result = await session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge(self, session: AsyncSession, *, rt: Runtime, limit: int = 1000) -> int:
        """Delete the payloads past their retain_until (a batch), record their disposition, queue their events."""
        now = rt.clock.now()
        due = (
            select(_TABLE.c.id)
            .where(_TABLE.c.purged_at.is_(None), _TABLE.c.retain_until <= now)
            .order_by(_TABLE.c.retain_until)
            .limit(limit)
            .with_for_update(skip_locked=True)  # replicas purge disjoint batches
        )
        ids = list((await session.scalars(due)).all())
        if not ids:
            return 0
        purged = (
            await session.execute(
                update(_TABLE)
                .where(_TABLE.c.id.in_(ids), _TABLE.c.purged_at.is_(None))
                .values(payload=None, purged_at=now, disposition=_TABLE.c.retain_reason)
                .returning(_TABLE.c.id, _TABLE.c.retain_reason, _TABLE.c.consent_id, _TABLE.c.retain_until)
            )
        ).all()
        for row in purged:
            await rt.outbox.add(
                session,
                PURGED_EVENT,
                {
                    "payload_id": row.id,
                    "disposition": row.retain_reason,
                    "consent_id": row.consent_id,
                    "retain_until": row.retain_until.isoformat(),
                    "purged_at": now.isoformat(),
                },
            )
        return len(purged)


retention = RetentionService()

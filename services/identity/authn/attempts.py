"""The record of every authentication attempt: the history entry, its outbox event and the person's access notice
(SG-NOTIFY-1). Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.db import table_of
from services.common.ids import new_id
from services.identity.authn.factors import Check
from services.identity.authn.models import (
    AuthEvent,
    Factor,
    Operation,
    Result,
)
from services.identity.deps import Runtime
from services.identity.notifications.service import notification as notification_service
from services.identity.persons.models import Person

log = structlog.get_logger(__name__)

_INSERT_AUTH_EVENT = insert(table_of(AuthEvent))

_EVENT_SUBJECTS = {
    Operation.kyc: "identity.kyc.released",
    Operation.userinfo: "identity.oidc.userinfo_released",
}


@dataclass(frozen=True)
class RecordedAuthEvent:
    """What callers of `record` use of the history entry just written (not an ORM object: none is needed)."""

    id: str
    occurred_at: datetime
    reason: str | None
    attributes: list[str]


async def record(
    session: AsyncSession,
    caller: Caller,
    person: Person,
    *,
    operation: Operation,
    factor: Factor,
    check: Check,
    rt: Runtime,
    client_id: str | None = None,
    attributes: list[str] | None = None,
) -> RecordedAuthEvent:
    """Write the auth history entry, its outbox event and the person's access notice (SG-NOTIFY-1)."""
    now = rt.clock.now()
    requester = client_id or caller.client_id
    row: dict[str, Any] = {
        "id": new_id("ahe"),
        "person_id": person.id,
        "occurred_at": now,
        "operation": operation.value,
        "factor": factor.value,
        "result": (Result.success if check.ok else Result.failure).value,
        "reason": None if check.ok else check.reason,
        "client_id": requester,
        "channel": caller.channel,
        "assisted_by": caller.assisted_by,
        "purpose": caller.purpose,
        "consent_id": caller.consent_id,
        "decision_id": caller.decision_id,
        "attributes": attributes or [],
    }
    # Append-only: a Core insert of the row, not an ORM add and a flush of everything else pending.
    await session.execute(_INSERT_AUTH_EVENT, row)
    event = RecordedAuthEvent(row["id"], now, row["reason"], row["attributes"])
    # A failed release released nothing: it is announced as the failed authentication it was.
    subject = (_EVENT_SUBJECTS.get(operation) if check.ok else None) or (
        "identity.authn.succeeded" if check.ok else "identity.authn.failed"
    )
    await rt.outbox.add(
        session,
        subject,
        {
            "auth_event_id": event.id,
            "person_id": person.id,
            "sub": person.sub,
            "client_id": requester,
            "operation": operation.value,
            "factor": factor.value,
            "channel": caller.channel,
            "purpose": caller.purpose,
            "consent_id": caller.consent_id,
            "attributes": event.attributes,
        },
    )
    await notification_service.send_access_notice(
        session,
        person,
        requester=requester,
        operation=operation.value,
        factor=factor.value,
        success=check.ok,
        at=now,
        rt=rt,
    )
    log.info(subject, auth_event_id=event.id, person_id=person.id, reason=event.reason)
    return event

"""Publish/subscribe through the exchange: providers publish through their outbox and the bus; each event reaches
the subscriptions to its service whose subscriber still holds a live access right, with only the fields that right
permits (plus the event's own ids and times). Delivery is at least once end to end: the bus may deliver twice, a
subscriber is offered a delivery until it acknowledges it, and one row per (subscription, event) makes every
repetition harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.bus import Event
from services.common.db import insert_unless_conflict, table_of
from services.common.ids import new_id
from services.exchange.deps import Runtime
from services.exchange.fetch.policy import deny
from services.exchange.members.errors import ServiceNotFound
from services.exchange.members.models import AccessRight, ExchangeService
from services.exchange.members.repository import fetch_directory
from services.exchange.pubsub.errors import SubscriptionNotFound
from services.exchange.pubsub.models import Delivery, Subscription
from services.exchange.pubsub.schemas import DeliveryRead, SubscriptionCreate, SubscriptionRead

log = structlog.get_logger(__name__)
# An event's own identifiers and times, delivered with whatever fields the access right permits.
EVENT_METADATA = frozenset(
    {"birth_id", "death_id", "household_id", "subject", "subjects", "registered_at", "updated_at"}
)
DELIVERY_BATCH = 100


def permitted_payload(payload: dict[str, Any], right_fields: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in EVENT_METADATA or k in right_fields}


class PubSubService:
    async def subscribe(
        self, session: AsyncSession, caller: Caller, body: SubscriptionCreate, *, rt: Runtime
    ) -> SubscriptionRead:
        directory = await fetch_directory(rt.engine, caller.client_id, body.service)
        subsystem, service, right = directory.subsystem, directory.service, directory.right
        if subsystem is None:
            raise deny("SG-SEC-1", f"The client {caller.client_id} is not registered as a subsystem of any member.")
        if service is None:
            raise ServiceNotFound(f"There is no service {body.service}.")
        if right is None:
            raise deny("SG-SEC-1", f"{subsystem.id} has no access right to {service.id}, so none to its events.")
        if body.event_type not in service.event_types:
            raise ServiceNotFound(f"{service.id} publishes no event {body.event_type}.")
        existing = (
            await session.scalars(
                select(Subscription).where(
                    Subscription.subscriber_subsystem_id == subsystem.id,
                    Subscription.service_id == service.id,
                    Subscription.event_type == body.event_type,
                )
            )
        ).one_or_none()
        if existing is None:
            existing = Subscription(
                id=new_id("sub"),
                subscriber_subsystem_id=subsystem.id,
                client_id=caller.client_id,
                service_id=service.id,
                event_type=body.event_type,
                created_at=rt.clock.now(),
            )
            session.add(existing)
        existing.cancelled_at = None
        await session.flush()
        return SubscriptionRead.model_validate(existing)

    async def _own(self, session: AsyncSession, caller: Caller, subscription_id: str) -> Subscription:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None or subscription.client_id != caller.client_id:
            raise SubscriptionNotFound(f"You have no subscription {subscription_id}.")
        return subscription

    async def cancel(
        self, session: AsyncSession, caller: Caller, subscription_id: str, *, rt: Runtime
    ) -> SubscriptionRead:
        subscription = await self._own(session, caller, subscription_id)
        subscription.cancelled_at = subscription.cancelled_at or rt.clock.now()
        await session.flush()
        return SubscriptionRead.model_validate(subscription)

    async def pending(self, session: AsyncSession, caller: Caller, subscription_id: str) -> list[DeliveryRead]:
        await self._own(session, caller, subscription_id)
        statement = (
            select(Delivery)
            .where(Delivery.subscription_id == subscription_id, Delivery.acked_at.is_(None))
            .order_by(Delivery.id)
            .limit(DELIVERY_BATCH)
        )
        return [DeliveryRead.model_validate(d) for d in await session.scalars(statement)]

    async def ack(
        self, session: AsyncSession, caller: Caller, subscription_id: str, delivery_id: str, *, rt: Runtime
    ) -> None:
        await self._own(session, caller, subscription_id)
        result = await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.subscription_id == subscription_id)
            .values(acked_at=rt.clock.now())
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise SubscriptionNotFound(f"Subscription {subscription_id} has no delivery {delivery_id}.")

    async def deliver(self, session: AsyncSession, event: Event, *, rt: Runtime) -> int:
        """Fan one bus event out to the subscriptions within their access rights; returns new deliveries."""
        rows = (
            await session.execute(
                select(Subscription.id, AccessRight.fields)
                .join(ExchangeService, ExchangeService.id == Subscription.service_id)
                .join(
                    AccessRight,
                    (AccessRight.service_id == Subscription.service_id)
                    & (AccessRight.client_subsystem_id == Subscription.subscriber_subsystem_id)
                    & AccessRight.revoked_at.is_(None),
                )
                .where(Subscription.event_type == event.subject, Subscription.cancelled_at.is_(None))
            )
        ).all()
        delivered = 0
        now = rt.clock.now()
        for subscription_id, fields in rows:
            values = {
                "id": new_id("dlv"),
                "subscription_id": subscription_id,
                "event_id": event.msg_id,
                "event_type": event.subject,
                "payload": permitted_payload(event.payload, fields),
                "created_at": now,
                "acked_at": None,
            }
            delivered += await insert_unless_conflict(session, table_of(Delivery), values)
        return delivered


pubsub = PubSubService()

"""Publish/subscribe over HTTP: a consumer subscribes to a service's events within its access right, then pulls its
deliveries and acknowledges each (at least once: unacknowledged deliveries are offered again)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import ConsumerDep, RuntimeDep
from services.exchange.members.errors import ServiceNotFound
from services.exchange.paths import RowId
from services.exchange.pubsub.errors import SubscriptionNotFound
from services.exchange.pubsub.schemas import DeliveryRead, SubscriptionCreate, SubscriptionRead
from services.exchange.pubsub.service import pubsub as pubsub_service

router = APIRouter(prefix="/v1/subscriptions", tags=["publish/subscribe"])


@router.post(
    "",
    status_code=201,
    summary="Subscribe to a service's events (relying party)",
    description="Only with a live access right to the service (SG-SEC-1). Each event is delivered with only the "
    "fields that right permits; if the right is revoked, deliveries stop.",
    response_model=SubscriptionRead,
    responses=problem_responses(PolicyDenied, ServiceNotFound),
)
async def subscribe(
    body: SubscriptionCreate, session: SessionDep, caller: ConsumerDep, rt: RuntimeDep
) -> SubscriptionRead:
    return await pubsub_service.subscribe(session, caller, body, rt=rt)


@router.delete(
    "/{subscription_id}",
    summary="Cancel a subscription",
    response_model=SubscriptionRead,
    responses=problem_responses(PolicyDenied, SubscriptionNotFound),
)
async def cancel(subscription_id: RowId, session: SessionDep, caller: ConsumerDep, rt: RuntimeDep) -> SubscriptionRead:
    return await pubsub_service.cancel(session, caller, subscription_id, rt=rt)


@router.get(
    "/{subscription_id}/deliveries",
    summary="Deliveries not yet acknowledged, oldest first (at most 100)",
    response_model=list[DeliveryRead],
    responses=problem_responses(PolicyDenied, SubscriptionNotFound),
)
async def pending(subscription_id: RowId, session: SessionDep, caller: ConsumerDep) -> list[DeliveryRead]:
    return await pubsub_service.pending(session, caller, subscription_id)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/ack",
    status_code=204,
    summary="Acknowledge a delivery",
    description="Idempotent: acknowledging twice is harmless.",
    responses=problem_responses(PolicyDenied, SubscriptionNotFound),
)
async def ack(
    subscription_id: RowId, delivery_id: RowId, session: SessionDep, caller: ConsumerDep, rt: RuntimeDep
) -> Response:
    await pubsub_service.ack(session, caller, subscription_id, delivery_id, rt=rt)
    return Response(status_code=204)

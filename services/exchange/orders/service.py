"""The court-order registry: the oversight role records orders; the fetch checks them (SG-LAWFUL-1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.exchange.deps import Runtime
from services.exchange.members.repository import DirectoryRepository
from services.exchange.orders.errors import CourtOrderNotFound, DeferralTooLong, InvalidCourtOrder
from services.exchange.orders.models import CourtOrder
from services.exchange.orders.repository import CourtOrderRepository
from services.exchange.orders.schemas import CourtOrderCreate, CourtOrderPage, CourtOrderRead


class CourtOrderService:
    async def record(
        self, session: AsyncSession, caller: Caller, body: CourtOrderCreate, *, rt: Runtime
    ) -> CourtOrderRead:
        repo = DirectoryRepository.from_session(session)
        member = await repo.member(body.member_id)
        if member is None or member.member_class != "LAW":
            raise InvalidCourtOrder(f"{body.member_id} is not a law-enforcement member of the exchange.")
        fields_by_service: set[str] = set()
        for service_id in body.services:
            service = await repo.service(service_id)
            if service is None:
                raise InvalidCourtOrder(f"There is no service {service_id}.")
            fields_by_service.update(service.fields)
        unknown = sorted(set(body.fields) - fields_by_service)
        if unknown:
            raise InvalidCourtOrder(f"No service named in the order has the field(s) {', '.join(unknown)}.")
        now = rt.clock.now()
        if body.expires_at <= now:
            raise InvalidCourtOrder("The order has already expired.")
        if body.disclose_after is not None:
            latest = now + timedelta(days=rt.settings.court_order_max_deferral_days)
            if body.disclose_after > latest:
                raise DeferralTooLong(
                    f"Disclosure may be deferred by at most {rt.settings.court_order_max_deferral_days} days "
                    f"(until {latest.isoformat()}).",
                )
        order = CourtOrder(
            id=new_id("cor"), issued_at=now, recorded_by=caller.client_id, revoked_at=None, **body.model_dump()
        )
        session.add(order)
        await session.flush()
        return CourtOrderRead.model_validate(order)

    async def get(self, session: AsyncSession, order_id: str) -> CourtOrderRead:
        order = await session.get(CourtOrder, order_id)
        if order is None:
            raise CourtOrderNotFound(f"There is no court order {order_id}.")
        return CourtOrderRead.model_validate(order)

    async def page(self, session: AsyncSession, paging: PageRequest) -> CourtOrderPage:
        rows = await CourtOrderRepository.from_session(session).page(select(CourtOrder), paging)
        return CourtOrderPage.of(rows, paging, position=lambda o: o.id, item=CourtOrderRead.model_validate)

    async def revoke(self, session: AsyncSession, caller: Caller, order_id: str, *, rt: Runtime) -> CourtOrderRead:
        order = await session.get(CourtOrder, order_id)
        if order is None:
            raise CourtOrderNotFound(f"There is no court order {order_id}.")
        if order.revoked_at is None:
            order.revoked_at = rt.clock.now()
            await session.flush()
        return CourtOrderRead.model_validate(order)


court_orders = CourtOrderService()

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select

from gateway.oversight.grievances.models import OPEN, Grievance, GrievanceEvent, GrievanceStatus
from services.common.paging import PageRequest
from services.common.repository import Repository


class GrievanceRepository(Repository[Grievance]):
    model = Grievance

    async def history(self, grievance_ids: Sequence[str]) -> dict[str, list[GrievanceEvent]]:
        rows = await self.session.execute(
            select(GrievanceEvent).where(GrievanceEvent.grievance_id.in_(grievance_ids)).order_by(GrievanceEvent.id)
        )
        grouped: dict[str, list[GrievanceEvent]] = {i: [] for i in grievance_ids}
        for event in rows.scalars():
            grouped[event.grievance_id].append(event)
        return grouped

    async def queue(
        self, paging: PageRequest, *, sub: str | None, status: GrievanceStatus | None, overdue_at: datetime | None
    ) -> Sequence[Grievance]:
        """A page of tickets, oldest first, optionally one person's, in one state, or overdue at `overdue_at`."""
        statement = select(Grievance)
        if sub is not None:
            statement = statement.where(Grievance.sub == sub)
        if status is not None:
            statement = statement.where(Grievance.status == status)
        if overdue_at is not None:
            statement = statement.where(self._overdue(overdue_at))
        rows: Sequence[Grievance] = await self.page(statement, paging)
        return rows

    async def open_and_overdue(self, now: datetime) -> Sequence[Grievance]:
        statement = (
            select(Grievance)
            .where(self._overdue(now))
            .order_by(Grievance.id)
            .with_for_update(skip_locked=True)  # timers in several gateway processes take disjoint tickets
        )
        return (await self.session.execute(statement)).scalars().all()

    async def all_for_statistics(self) -> Sequence[Grievance]:
        return (await self.session.execute(select(Grievance))).scalars().all()

    @staticmethod
    def _overdue(now: datetime):  # type: ignore[no-untyped-def]
        return and_(
            Grievance.status.in_([s.value for s in OPEN]),
            or_(
                Grievance.resolve_by < now,
                and_(Grievance.status == GrievanceStatus.received, Grievance.acknowledge_by < now),
            ),
        )

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from gateway.oversight.breaches.models import BreachIncident, BreachPerson
from services.common.paging import PageRequest
from services.common.repository import Repository


class BreachRepository(Repository[BreachIncident]):
    model = BreachIncident

    async def people(self, incident_ids: Sequence[str]) -> dict[str, list[BreachPerson]]:
        rows = await self.session.scalars(
            select(BreachPerson).where(BreachPerson.incident_id.in_(incident_ids)).order_by(BreachPerson.id)
        )
        grouped: dict[str, list[BreachPerson]] = {i: [] for i in incident_ids}
        for person in rows:
            grouped[person.incident_id].append(person)
        return grouped

    async def listing(self, paging: PageRequest) -> Sequence[BreachIncident]:
        rows: Sequence[BreachIncident] = await self.page(select(BreachIncident), paging)
        return rows

    async def past_deadline(self, now: datetime) -> Sequence[BreachIncident]:
        """Incidents whose deadline has passed and that are not yet marked as having missed it (locked)."""
        statement = (
            select(BreachIncident)
            .where(BreachIncident.notify_by < now, BreachIncident.deadline_missed_at.is_(None))
            .order_by(BreachIncident.id)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(statement)).all()

    async def everything(self) -> Sequence[BreachIncident]:
        return (await self.session.scalars(select(BreachIncident))).all()

    async def claim_unreissued(self, incident_id: str, now: datetime) -> list[tuple[str, str]]:
        """Mark every affected person not yet reissued as reissued now, and return their (row id, sub): one UPDATE,
        so two concurrent calls never reissue the same person twice."""
        statement = (
            update(BreachPerson)
            .where(BreachPerson.incident_id == incident_id, BreachPerson.reissued_at.is_(None))
            .values(reissued_at=now)
            .returning(BreachPerson.id, BreachPerson.sub)
            .execution_options(synchronize_session=False)
        )
        return [(row.id, row.sub) for row in await self.session.execute(statement)]

    async def record_reissue(self, person_id: str, *, vids_revoked: int, vids_issued: int, credentials: int) -> None:
        await self._update_person(
            person_id, {"vids_revoked": vids_revoked, "vids_issued": vids_issued, "credentials_revoked": credentials}
        )

    async def release_reissue(self, person_id: str) -> None:
        """A reissue identity refused: the person may be reissued by a later call."""
        await self._update_person(person_id, {"reissued_at": None})

    async def _update_person(self, person_id: str, values: dict[str, object]) -> None:
        statement = update(BreachPerson).where(BreachPerson.id == person_id).values(**values)
        await self.session.execute(statement.execution_options(synchronize_session=False))

"""Every select of the persons domain; looks people up by blind index only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.persons.models import EnrolmentRequest, Person, PersonAttribute, PersonStatus

# Statuses that a new enrolment is compared against: a refused duplicate is already somebody else's record.
DEDUP_STATUSES = (PersonStatus.active, PersonStatus.pending_adjudication)


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PersonRepository:
        return cls(session)

    async def get(self, person_id: str) -> Person | None:
        return await self.session.get(Person, person_id)

    async def get_by_sub(self, sub: str) -> Person | None:
        result = await self.session.scalars(select(Person).where(Person.sub == sub))
        return result.one_or_none()

    async def get_many(self, person_ids: Iterable[str]) -> Sequence[Person]:
        return (await self.session.scalars(select(Person).where(Person.id.in_(list(person_ids))))).all()

    async def find_duplicate_candidates(self, *, name_dob_index: str, biometric_hash: str | None) -> Sequence[Person]:
        match = Person.name_dob_index == name_dob_index
        if biometric_hash is not None:
            match = or_(match, Person.biometric_hash == biometric_hash)
        statement = select(Person).where(match, Person.status.in_(list(DEDUP_STATUSES))).order_by(Person.id)
        return (await self.session.scalars(statement)).all()

    async def uin_index_taken(self, uin_index: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Person.uin_index == uin_index))))

    async def lock_dedup_keys(self, keys: Iterable[str]) -> None:
        """Serialise concurrent enrolments that share a dedup key until the transaction ends.

        SQLite needs nothing: its write transactions begin IMMEDIATE and so run one at a time. On PostgreSQL two
        enrolments of the same person would otherwise both see no match and both get a UIN.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for key in sorted(set(keys)):
            lock_id = int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": lock_id})

    async def attributes(self, person_id: str) -> Sequence[PersonAttribute]:
        statement = select(PersonAttribute).where(PersonAttribute.person_id == person_id)
        return (await self.session.scalars(statement)).all()

    async def attribute(self, person_id: str, name: str) -> PersonAttribute | None:
        return await self.session.get(PersonAttribute, (person_id, name))

    async def delete_attribute(self, person_id: str, name: str) -> None:
        await self.session.execute(
            delete(PersonAttribute).where(PersonAttribute.person_id == person_id, PersonAttribute.name == name)
        )

    async def get_enrolment_request(self, client_id: str, idempotency_key: str) -> EnrolmentRequest | None:
        return await self.session.get(EnrolmentRequest, (client_id, idempotency_key))

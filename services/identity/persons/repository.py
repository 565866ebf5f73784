"""Every select of the persons domain; looks people up by blind index only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.identity.persons.models import Person, PersonAttribute, PersonStatus

# Statuses that a new enrolment is compared against: a refused duplicate is already somebody else's record.
DEDUP_STATUSES = (PersonStatus.active, PersonStatus.pending_adjudication)

# The per-request statements, built once with bound parameters: building a select and computing its cache key costs
# more CPU than its round trip to PostgreSQL, whereas a prebuilt statement keeps its key.
_INSERT_ATTRIBUTE = insert(table_of(PersonAttribute))
_BY_SUB = select(Person).where(Person.sub == bindparam("sub"))
_UIN_INDEX_TAKEN = select(exists().where(Person.uin_index == bindparam("uin_index")))
_DEDUP_STATUS = Person.status.in_([status.value for status in DEDUP_STATUSES])
_CANDIDATES_BY_NAME_DOB = (
    select(Person).where(Person.name_dob_index == bindparam("name_dob"), _DEDUP_STATUS).order_by(Person.id)
)
_CANDIDATES_BY_NAME_DOB_OR_BIOMETRIC = (
    select(Person)
    .where(
        or_(Person.name_dob_index == bindparam("name_dob"), Person.biometric_hash == bindparam("biometric")),
        _DEDUP_STATUS,
    )
    .order_by(Person.id)
)


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PersonRepository:
        return cls(session)

    async def get(self, person_id: str) -> Person | None:
        return await self.session.get(Person, person_id)

    async def get_by_sub(self, sub: str) -> Person | None:
        return (await self.session.scalars(_BY_SUB, {"sub": sub})).one_or_none()

    async def get_many(self, person_ids: Iterable[str]) -> Sequence[Person]:
        return (await self.session.scalars(select(Person).where(Person.id.in_(list(person_ids))))).all()

    async def find_duplicate_candidates(self, *, name_dob_index: str, biometric_hash: str | None) -> Sequence[Person]:
        if biometric_hash is None:
            return (await self.session.scalars(_CANDIDATES_BY_NAME_DOB, {"name_dob": name_dob_index})).all()
        parameters = {"name_dob": name_dob_index, "biometric": biometric_hash}
        return (await self.session.scalars(_CANDIDATES_BY_NAME_DOB_OR_BIOMETRIC, parameters)).all()

    async def insert_person_unless_conflict(self, row: Mapping[str, Any]) -> bool:
        """Insert a person's row unless it collides with a unique key (its UIN index above all); True if inserted.

        One statement for what a look-up of the UIN and an ORM flush did in two: a collision, which a random UIN
        makes rare, is reported rather than raised, so the caller draws again in the same transaction.
        """
        return await insert_unless_conflict(self.session, table_of(Person), row)

    async def uin_index_taken(self, uin_index: str) -> bool:
        return bool(await self.session.scalar(_UIN_INDEX_TAKEN, {"uin_index": uin_index}))

    async def page_by_id(self, *, after: str, limit: int) -> Sequence[Person]:
        """Every person, in id order, `limit` at a time after the id `after` (maintenance passes)."""
        statement = select(Person).where(Person.id > after).order_by(Person.id).limit(limit)
        return (await self.session.scalars(statement)).all()

    async def lock(self, person_id: str) -> None:
        """Hold the person's row until the transaction ends, so that count-then-write decisions about one person
        (how many VIDs they hold) happen one request at a time. PostgreSQL: SELECT ... FOR UPDATE. SQLite renders no
        FOR UPDATE: its write transactions begin IMMEDIATE and already run one at a time."""
        await self.session.execute(select(Person.id).where(Person.id == person_id).with_for_update())

    async def lock_dedup_keys(self, keys: Iterable[str]) -> None:
        """Serialise concurrent enrolments that share a dedup key until the transaction ends.

        SQLite needs nothing: its write transactions begin IMMEDIATE and so run one at a time. On PostgreSQL two
        enrolments of the same person would otherwise both see no match and both get a UIN.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        lock_ids = [int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True) for key in sorted(set(keys))]
        if not lock_ids:
            return
        # One round trip for all the keys: a select list is evaluated left to right, so the locks are still taken
        # in sorted order (which is what keeps two enrolments from deadlocking).
        columns = ", ".join(f"pg_advisory_xact_lock(:lock_{n})" for n in range(len(lock_ids)))
        await self.session.execute(
            text(f"SELECT {columns}"), {f"lock_{n}": lock_id for n, lock_id in enumerate(lock_ids)}
        )

    async def attributes(self, person_id: str) -> Sequence[PersonAttribute]:
        statement = select(PersonAttribute).where(PersonAttribute.person_id == person_id)
        return (await self.session.scalars(statement)).all()

    async def attribute(self, person_id: str, name: str) -> PersonAttribute | None:
        return await self.session.get(PersonAttribute, (person_id, name))

    async def insert_attributes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """New attribute rows in one batched INSERT, without the ORM unit of work.

        An executemany of one compiled statement (SQLAlchemy sends it as one multi-row INSERT): `.values([...])`
        would be compiled anew for every request, since its literal rows are part of the statement.
        """
        await self.session.execute(_INSERT_ATTRIBUTE, list(rows))

    async def delete_attribute(self, person_id: str, name: str) -> None:
        await self.session.execute(
            delete(PersonAttribute).where(PersonAttribute.person_id == person_id, PersonAttribute.name == name)
        )

"""The civil registry's rules: one birth per person, one death, no marriage of the deceased or of the married."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.ids import new_id
from services.exchange.registries.civil.models import Birth, CivilPerson, Death, Marriage, ParentLink
from services.exchange.registries.civil.repository import CivilRepository
from services.exchange.registries.credential import ExchangeRequest
from services.exchange.registries.deps import RegistryRuntime
from services.exchange.registries.errors import InvalidRegistration, RecordNotFound, RegistrationConflict
from services.exchange.registries.schemas import (
    BirthCreate,
    BirthRead,
    CivilRecord,
    DeathCreate,
    DeathRead,
    MarriageCreate,
    MarriageRead,
    ParentRef,
    ProviderRecord,
)

CIVIL_FIELDS = tuple(CivilRecord.model_fields)
BIRTH_REGISTERED = "exchange.civil.birth_registered"
DEATH_REGISTERED = "exchange.civil.death_registered"


class CivilService:
    async def record(
        self, session: AsyncSession, request: ExchangeRequest, sub: str, fields: Sequence[str]
    ) -> ProviderRecord:
        """The fields asked for of one person's civil record (the provider minimises at source too)."""
        repo = CivilRepository.from_session(session)
        person = await repo.person(sub)
        if person is None:
            raise RecordNotFound("The civil registry has no record for this subject.")
        wanted = [f for f in fields if f in CIVIL_FIELDS] if fields else list(CIVIL_FIELDS)
        record: dict[str, object] = {}
        for name in wanted:
            if name == "date_of_death":
                death = await repo.death(sub) if person.vital_status == "deceased" else None
                record[name] = None if death is None else death.date_of_death.isoformat()
            elif name == "parents":
                links = await repo.parents(sub)
                record[name] = [
                    ParentRef(relation=link.relation, subject=link.parent_sub).model_dump() for link in links
                ]
            elif name == "date_of_birth":
                record[name] = person.date_of_birth.isoformat()
            else:
                record[name] = getattr(person, name)
        return ProviderRecord(subject=sub, record=record)

    async def register_birth(
        self, session: AsyncSession, request: ExchangeRequest, body: BirthCreate, *, rt: RegistryRuntime
    ) -> BirthRead:
        repo = CivilRepository.from_session(session)
        if await repo.person(body.subject) is not None:
            raise RegistrationConflict("This subject's birth is already registered.")
        parents = [(relation, sub) for relation, sub in (("mother", body.mother), ("father", body.father)) if sub]
        if parents and len(await repo.persons([sub for _, sub in parents])) != len(parents):
            raise InvalidRegistration("A parent named in the registration is not in the civil registry.")
        now = rt.clock.now()
        session.add(
            CivilPerson(
                sub=body.subject,
                given_name=body.given_name,
                family_name=body.family_name,
                date_of_birth=body.date_of_birth,
                sex=body.sex,
                place_of_birth=body.place_of_birth,
                ethnicity=body.ethnicity,
                vital_status="alive",
                marital_status="never_married",
                registered_at=now,
            )
        )
        await session.flush()
        birth = Birth(id=new_id("bir"), child_sub=body.subject, registered_by=request.client, registered_at=now)
        session.add(birth)
        session.add_all(
            ParentLink(child_sub=body.subject, parent_sub=sub, relation=relation) for relation, sub in parents
        )
        await session.flush()
        await rt.outbox.add(
            session,
            BIRTH_REGISTERED,
            {
                "birth_id": birth.id,
                "subject": body.subject,
                "date_of_birth": body.date_of_birth.isoformat(),
                "place_of_birth": body.place_of_birth,
                "registered_at": now.isoformat(),
            },
        )
        return BirthRead(id=birth.id, subject=body.subject, registered_at=now)

    async def register_death(
        self, session: AsyncSession, request: ExchangeRequest, body: DeathCreate, *, rt: RegistryRuntime
    ) -> DeathRead:
        repo = CivilRepository.from_session(session)
        person = await repo.person(body.subject)
        if person is None:
            raise RecordNotFound("The civil registry has no record for this subject.")
        if person.vital_status == "deceased":
            raise RegistrationConflict("This subject's death is already registered.")
        if body.date_of_death < person.date_of_birth:
            raise InvalidRegistration("The date of death is before the date of birth.")
        now = rt.clock.now()
        death = Death(
            id=new_id("dea"),
            sub=body.subject,
            date_of_death=body.date_of_death,
            place_of_death=body.place_of_death,
            registered_by=request.client,
            registered_at=now,
        )
        person.vital_status = "deceased"
        session.add(death)
        await session.flush()
        await rt.outbox.add(
            session,
            DEATH_REGISTERED,
            {
                "death_id": death.id,
                "subject": body.subject,
                "date_of_death": body.date_of_death.isoformat(),
                "registered_at": now.isoformat(),
            },
        )
        return DeathRead(id=death.id, subject=body.subject, date_of_death=body.date_of_death, registered_at=now)

    async def register_marriage(
        self, session: AsyncSession, request: ExchangeRequest, body: MarriageCreate, *, rt: RegistryRuntime
    ) -> MarriageRead:
        if body.spouse_a == body.spouse_b:
            raise InvalidRegistration("A marriage needs two different people.")
        people = await CivilRepository.from_session(session).persons([body.spouse_a, body.spouse_b])
        if len(people) != 2:
            raise RecordNotFound("A spouse named in the registration is not in the civil registry.")
        for person in people:
            if person.vital_status != "alive":
                raise InvalidRegistration("A spouse named in the registration is deceased.")
            if person.marital_status == "married":
                raise RegistrationConflict("A spouse named in the registration is already married.")
            person.marital_status = "married"
        now = rt.clock.now()
        marriage = Marriage(
            id=new_id("mar"),
            spouse_a_sub=body.spouse_a,
            spouse_b_sub=body.spouse_b,
            date_of_marriage=body.date_of_marriage,
            place=body.place,
            status="in_force",
            registered_by=request.client,
            registered_at=now,
        )
        session.add(marriage)
        await session.flush()
        return MarriageRead(
            id=marriage.id,
            spouse_a=body.spouse_a,
            spouse_b=body.spouse_b,
            date_of_marriage=body.date_of_marriage,
            registered_at=now,
        )


civil = CivilService()

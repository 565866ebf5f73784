"""Enrolment, deduplication, UIN issuance and the encrypted personal record. Never commits (the request does)."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.db import table_of
from services.common.ids import new_id
from services.identity.deps import Runtime
from services.identity.keyring import Keyring
from services.identity.persons.errors import (
    DuplicateSuspected,
    InvalidPersonalData,
    PersonNotFound,
    SubjectNotFound,
    UinIssuanceFailed,
)
from services.identity.persons.matching import matching_name
from services.identity.persons.models import Person, PersonAttribute, PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.schemas import (
    NAME_FIELDS,
    EnrolmentConsents,
    EnrolmentCreate,
    EnrolmentResult,
    MyRecord,
    PersonRead,
    stored_form,
)
from services.identity.persons.uin import generate_uin

log = structlog.get_logger(__name__)

UIN_ATTRIBUTE = "uin"
UIN_ATTEMPTS = 20
_NOT_PHONE_DIGITS = re.compile(r"[^0-9+]")


class HoldForAdjudication(Protocol):
    """Opens an adjudication case for a held enrolment and its `candidates`; returns the case id. Adjudication
    provides it (`adjudication_service.open_case`): it knows persons, persons never know it."""

    async def __call__(
        self,
        session: AsyncSession,
        person: Person,
        candidates: Sequence[Person],
        biometric_hash: str | None,
        *,
        rt: Runtime,
    ) -> str: ...


def new_sub() -> str:
    """An opaque internal subject reference: `sub_` and 26 base32 characters (128 random bits)."""
    return "sub_" + base64.b32encode(secrets.token_bytes(16)).decode("ascii").lower()[:26]


def attribute_context(person_id: str, name: str) -> str:
    return f"person:{person_id}:{name}"


def display_name(values: Mapping[str, str | None]) -> str:
    """How a person is named wherever a name is shown or released: the full name, else given and family names."""
    return values.get("full_name") or " ".join(v for n in ("given_name", "family_name") if (v := values.get(n)))


def dedup_name(values: Mapping[str, str | None]) -> str:
    """The person's name in its matching form, as the name and date-of-birth index takes it."""
    return matching_name(display_name(values))


def name_dob_index_of(matching: str, date_of_birth: str, keyring: Keyring) -> str:
    """The name and date-of-birth blind index from the name's matching form (`dedup_name`)."""
    return keyring.blind.index(f"{matching} {date_of_birth}", kind="name_dob")


def phone_index_of(phone: str | None, keyring: Keyring) -> str | None:
    return keyring.blind.index(_NOT_PHONE_DIGITS.sub("", phone), kind="phone") if phone else None


def encrypted_attribute_rows(
    person_id: str, fields: Iterable[tuple[str, str | None, datetime]], rt: Runtime
) -> list[dict[str, Any]]:
    """`person_attributes` rows for (name, value, written at): each value encrypted under the active key, bound to
    the person and the field; absent values are left out."""
    rows = []
    for name, value, written_at in fields:
        if value is None:
            continue
        key_id, ciphertext = rt.keyring.cipher.encrypt(value, context=attribute_context(person_id, name))
        rows.append(
            {"person_id": person_id, "name": name, "key_id": key_id, "ciphertext": ciphertext, "updated_at": written_at}
        )
    return rows


def _uin_draws(rt: Runtime) -> Iterator[tuple[str, str]]:
    """Up to UIN_ATTEMPTS fresh random UINs, each with its blind index; the caller keeps the first no one holds."""
    for _ in range(UIN_ATTEMPTS):
        uin = generate_uin()
        yield uin, rt.keyring.blind.index(uin, kind="uin")


class PersonService:
    async def enrol(
        self,
        session: AsyncSession,
        caller: Caller,
        body: EnrolmentCreate,
        *,
        rt: Runtime,
        hold: HoldForAdjudication,
    ) -> EnrolmentResult:
        """Enrol a person: a UIN at once, or a held record and an adjudication case (opened by `hold`) if a
        duplicate is suspected (raised as DuplicateSuspected, which commits them first)."""
        repository = PersonRepository.from_session(session)
        now = rt.clock.now()
        if body.date_of_birth > now.date():
            raise InvalidPersonalData("date_of_birth", "the date of birth is in the future")

        values = stored_form(body)
        # Biometric data is stored centrally, and so used for deduplication, only with consent (SG-INCL-2).
        biometric_hash = (
            rt.keyring.fingerprint("biometric", body.biometric_template)
            if body.biometric_template and body.consents.biometric
            else None
        )
        name_dob_index = self.name_dob_index(values, rt)
        await repository.lock_dedup_keys([name_dob_index, *([biometric_hash] if biometric_hash else [])])
        candidates = await repository.find_duplicate_candidates(
            name_dob_index=name_dob_index, biometric_hash=biometric_hash
        )

        person = Person(
            id=new_id("per"),
            sub=new_sub(),
            status=PersonStatus.pending_adjudication if candidates else PersonStatus.active,
            name_dob_index=name_dob_index,
            phone_index=self.phone_index(values.get("phone"), rt),
            biometric_hash=biometric_hash,
            consent_biometric=body.consents.biometric,
            consent_notices=body.consents.notices,
            enrolled_by=caller.client_id,
            created_at=now,
            updated_at=now,
        )
        if candidates:
            session.add(person)
            await session.flush()
            await self._insert_attributes(session, person.id, values, rt=rt, written_at=now)
            case_id = await hold(session, person, candidates, biometric_hash, rt=rt)
            raise DuplicateSuspected(person_id=person.id, adjudication_case_id=case_id)
        # The row is written once, already with its UIN, rather than inserted and then updated by issue_uin.
        uin, issued_at = await self._insert_with_fresh_uin(repository, person, rt=rt)
        await self._insert_attributes(
            session, person.id, values, rt=rt, written_at=now, uin=uin, uin_written_at=issued_at
        )
        await self._announce_enrolment(session, person, rt=rt)
        return self._result(person, uin)

    async def issue_uin(self, session: AsyncSession, person: Person, *, rt: Runtime) -> str:
        """Give `person` a fresh random UIN (never sequential, never reused) and announce the enrolment."""
        uin, uin_index = await self._unused_uin(PersonRepository.from_session(session), rt=rt)
        now = rt.clock.now()
        person.uin_index = uin_index
        person.status = PersonStatus.active
        person.uin_issued_at = now
        person.updated_at = now
        await self.write_attributes(session, person.id, {UIN_ATTRIBUTE: uin}, rt=rt)
        await self._announce_enrolment(session, person, rt=rt)
        return uin

    @staticmethod
    async def _insert_with_fresh_uin(
        repository: PersonRepository, person: Person, *, rt: Runtime
    ) -> tuple[str, datetime]:
        """Write `person` (not added to the session) with a fresh random UIN, drawing again while the draw is taken
        (never sequential, never reused); returns the UIN and when it was issued."""
        issued_at = rt.clock.now()
        person.uin_issued_at = person.updated_at = issued_at
        for uin, uin_index in _uin_draws(rt):
            person.uin_index = uin_index
            row = {column.key: getattr(person, column.key) for column in table_of(Person).columns}
            if await repository.insert_person_unless_conflict(row):
                return uin, issued_at
        raise UinIssuanceFailed("Could not find an unused UIN; retry the request.")

    @staticmethod
    async def _unused_uin(repository: PersonRepository, *, rt: Runtime) -> tuple[str, str]:
        """A fresh random UIN that no one holds, and its blind index."""
        for uin, uin_index in _uin_draws(rt):
            if not await repository.uin_index_taken(uin_index):
                return uin, uin_index
        raise UinIssuanceFailed("Could not find an unused UIN; retry the request.")

    @staticmethod
    async def _announce_enrolment(session: AsyncSession, person: Person, *, rt: Runtime) -> None:
        await rt.outbox.add(session, "identity.person.enrolled", {"person_id": person.id, "sub": person.sub})
        log.info("identity.person.enrolled", person_id=person.id)

    async def get(self, session: AsyncSession, caller: Caller, person_id: str, *, rt: Runtime) -> PersonRead:
        """The registrar's view of a person: decrypted demographics and the UIN."""
        person = await PersonRepository.from_session(session).get(person_id)
        if person is None:
            raise PersonNotFound(f"No person {person_id}.")
        values = await self.read_attributes(session, person.id, rt=rt)
        return PersonRead.model_validate(
            {
                **self._record(person, values),
                "id": person.id,
                "sub": person.sub,
                "uin": values.get(UIN_ATTRIBUTE),
                "duplicate_of": person.duplicate_of,
            }
        )

    async def my_record(self, session: AsyncSession, caller: Caller, *, rt: Runtime) -> MyRecord:
        """The caller's own record, as the registry holds it, without the UIN: the person's right to see it."""
        person = await self.get_active_by_sub(session, caller.subject_ref)
        values = await self.read_attributes(session, person.id, rt=rt)
        return MyRecord.model_validate({**self._record(person, values), "uin_issued_at": person.uin_issued_at})

    @staticmethod
    def _record(person: Person, values: Mapping[str, str]) -> dict[str, Any]:
        """What both views of a record show: the decrypted demographics (never the UIN), consents and status."""
        return {
            **{name: value for name, value in values.items() if name != UIN_ATTRIBUTE},
            "status": person.status,
            "consents": EnrolmentConsents(biometric=person.consent_biometric, notices=person.consent_notices),
            "biometric_enrolled": person.biometric_hash is not None,
            "created_at": person.created_at,
            "updated_at": person.updated_at,
        }

    async def get_active(self, session: AsyncSession, person_id: str) -> Person | None:
        """The person `person_id` if enrolled with an issued UIN (active), else None; callers word the refusal."""
        person = await PersonRepository.from_session(session).get(person_id)
        return person if person is not None and person.status == PersonStatus.active else None

    async def get_active_by_sub(self, session: AsyncSession, sub: str | None) -> Person:
        """The person with an issued UIN behind an internal subject reference."""
        person = await PersonRepository.from_session(session).get_by_sub(sub) if sub else None
        if person is None or person.status != PersonStatus.active:
            raise SubjectNotFound("No enrolled person has this subject reference.")
        return person

    async def uin_of(self, session: AsyncSession, person: Person, *, rt: Runtime) -> str:
        attribute = await PersonRepository.from_session(session).attribute(person.id, UIN_ATTRIBUTE)
        if attribute is None:
            raise SubjectNotFound("This person has no UIN yet.")
        return self.decrypt_uin(person.id, attribute.key_id, attribute.ciphertext, rt=rt)

    @staticmethod
    def decrypt_uin(person_id: str, key_id: str, ciphertext: bytes, *, rt: Runtime) -> str:
        return rt.keyring.cipher.decrypt(key_id, ciphertext, context=attribute_context(person_id, UIN_ATTRIBUTE))

    async def update_field(
        self, session: AsyncSession, person: Person, field: str, value: str | None, *, rt: Runtime
    ) -> None:
        """Change one personal field (an approved correction) and keep the blind indexes in step."""
        await self.write_attributes(session, person.id, {field: value}, rt=rt)
        if field in (*NAME_FIELDS, "date_of_birth"):
            person.name_dob_index = self.name_dob_index(await self.read_attributes(session, person.id, rt=rt), rt)
        if field == "phone":
            person.phone_index = self.phone_index(value, rt)
        person.updated_at = rt.clock.now()

    async def read_attributes(self, session: AsyncSession, person_id: str, *, rt: Runtime) -> dict[str, str]:
        attributes = await PersonRepository.from_session(session).attributes(person_id)
        return {
            a.name: rt.keyring.cipher.decrypt(a.key_id, a.ciphertext, context=attribute_context(person_id, a.name))
            for a in attributes
        }

    async def write_attributes(
        self, session: AsyncSession, person_id: str, values: Mapping[str, str | None], *, rt: Runtime
    ) -> None:
        """Encrypt each value under the active key, bound to person and field; None removes the field."""
        repository = PersonRepository.from_session(session)
        stored = {attribute.name: attribute for attribute in await repository.attributes(person_id)}
        now = rt.clock.now()
        for name, value in values.items():
            existing = stored.get(name)
            if value is None:
                if existing is not None:
                    await repository.delete_attribute(person_id, name)
                continue
            key_id, ciphertext = rt.keyring.cipher.encrypt(value, context=attribute_context(person_id, name))
            if existing is None:
                session.add(
                    PersonAttribute(
                        person_id=person_id, name=name, key_id=key_id, ciphertext=ciphertext, updated_at=now
                    )
                )
            else:
                existing.key_id, existing.ciphertext, existing.updated_at = key_id, ciphertext, now
        await session.flush()

    async def _insert_attributes(
        self,
        session: AsyncSession,
        person_id: str,
        values: Mapping[str, str | None],
        *,
        rt: Runtime,
        written_at: datetime,
        uin: str | None = None,
        uin_written_at: datetime | None = None,
    ) -> None:
        """A new person's encrypted fields (and UIN) as one multi-row insert: there is nothing to read or replace."""
        fields = [(name, value, written_at) for name, value in values.items()]
        if uin is not None:
            fields.append((UIN_ATTRIBUTE, uin, uin_written_at or written_at))
        rows = encrypted_attribute_rows(person_id, fields, rt)
        if rows:
            await PersonRepository.from_session(session).insert_attributes(rows)

    async def reindex_names(self, session: AsyncSession, *, rt: Runtime, batch: int = 500) -> int:
        """Recompute every person's name blind index with today's matching rules (persons.matching), after they
        change; returns how many changed. Idempotent, in batches by id; run once after upgrading (CLI:
        `dpi-sandbox identity reindex-names`). Until it has run, a person whose name the new rules read differently
        is matched under the old index only."""
        changed, after = 0, ""
        repository = PersonRepository.from_session(session)
        while people := await repository.page_by_id(after=after, limit=batch):
            for person in people:
                index = self.name_dob_index(await self.read_attributes(session, person.id, rt=rt), rt)
                if index != person.name_dob_index:
                    person.name_dob_index, changed = index, changed + 1
            await session.flush()
            after = people[-1].id
        return changed

    @staticmethod
    def name_dob_index(values: Mapping[str, str | None], rt: Runtime) -> str:
        return name_dob_index_of(dedup_name(values), str(values["date_of_birth"]), rt.keyring)

    @staticmethod
    def phone_index(phone: str | None, rt: Runtime) -> str | None:
        return phone_index_of(phone, rt.keyring)

    @staticmethod
    def _result(person: Person, uin: str) -> EnrolmentResult:
        return EnrolmentResult(
            person_id=person.id,
            sub=person.sub,
            uin=uin,
            status=PersonStatus(person.status),
            biometric_enrolled=person.biometric_hash is not None,
        )


person = PersonService()

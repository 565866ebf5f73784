"""SG-GRIEV-3: a subject asks for a correction, a registrar decides within the SLA, overdue cases escalate."""

from __future__ import annotations

from datetime import date, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.identity.corrections.errors import (
    CorrectionAlreadyDecided,
    CorrectionMatchesAnotherPerson,
    CorrectionNotFound,
)
from services.identity.corrections.models import UNDECIDED, CorrectionCase, CorrectionStatus
from services.identity.corrections.repository import CorrectionRepository
from services.identity.corrections.schemas import (
    CorrectionCaseRead,
    CorrectionCreate,
    CorrectionDecision,
    CorrectionPage,
    CorrectionRead,
    EscalationResult,
    MyCorrectionPage,
)
from services.identity.deps import Runtime
from services.identity.persons.errors import InvalidPersonalData
from services.identity.persons.models import Person
from services.identity.persons.repository import PersonRepository
from services.identity.persons.schemas import NAME_FIELDS
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)


def _context(case_id: str, part: str) -> str:
    return f"correction:{case_id}:{part}"


class CorrectionService:
    async def request(
        self, session: AsyncSession, caller: Caller, body: CorrectionCreate, *, rt: Runtime
    ) -> CorrectionRead:
        """Open a case for the calling subject, due within the configured SLA."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        await self._check_value(session, person, body.field.value, body.value, rt=rt)
        now = rt.clock.now()
        case_id = new_id("cor")
        value_key_id, value_ciphertext = (
            rt.keyring.cipher.encrypt(body.value, context=_context(case_id, "value"))
            if body.value is not None
            else (None, None)
        )
        reason_key_id, reason_ciphertext = rt.keyring.cipher.encrypt(body.reason, context=_context(case_id, "reason"))
        case = CorrectionCase(
            id=case_id,
            person_id=person.id,
            field=body.field.value,
            value_key_id=value_key_id,
            value_ciphertext=value_ciphertext,
            reason_key_id=reason_key_id,
            reason_ciphertext=reason_ciphertext,
            status=CorrectionStatus.open,
            channel=caller.channel,
            created_at=now,
            due_at=now + timedelta(days=rt.settings.correction_sla_days),
        )
        session.add(case)
        await session.flush()
        payload = {"correction_id": case.id, "person_id": person.id}
        await rt.outbox.add(session, "identity.correction.requested", payload)
        log.info("identity.correction.requested", correction_id=case.id, person_id=person.id)
        return CorrectionRead.model_validate(self._view(case, rt=rt))

    async def list_mine(
        self, session: AsyncSession, caller: Caller, *, paging: PageRequest, rt: Runtime
    ) -> MyCorrectionPage:
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        cases = await CorrectionRepository.from_session(session).page_for_person(person.id, paging)
        return MyCorrectionPage.of(
            cases,
            paging,
            position=lambda case: case.id,
            item=lambda c: CorrectionRead.model_validate(self._view(c, rt=rt)),
        )

    async def get(self, session: AsyncSession, caller: Caller, case_id: str, *, rt: Runtime) -> CorrectionCaseRead:
        return self._case_read(await self._case(session, case_id), rt=rt)

    async def list(
        self,
        session: AsyncSession,
        caller: Caller,
        *,
        overdue: bool,
        status: CorrectionStatus | None,
        paging: PageRequest,
        rt: Runtime,
    ) -> CorrectionPage:
        """Cases in creation order; with `overdue`, only undecided ones whose SLA has run out by the clock."""
        cases = await CorrectionRepository.from_session(session).cases_page(
            paging, overdue_at=rt.clock.now() if overdue else None, status=status
        )
        return CorrectionPage.of(cases, paging, position=lambda case: case.id, item=lambda c: self._case_read(c, rt=rt))

    async def decide(
        self, session: AsyncSession, caller: Caller, case_id: str, body: CorrectionDecision, *, rt: Runtime
    ) -> CorrectionCaseRead:
        """Approve (the record changes, tokens do not) or reject a case; each decision is an event."""
        case = await self._case(session, case_id, for_update=True)
        if case.status not in UNDECIDED:
            raise CorrectionAlreadyDecided(f"Correction {case.id} was {case.status} already.")
        person = await PersonRepository.from_session(session).get(case.person_id)
        assert person is not None, "a case always points at its person (foreign key)"
        confirmed_distinct_from: tuple[str, ...] = ()
        if body.decision == "approve":
            value = self._value(case, rt=rt)
            await self._check_value(session, person, case.field, value, rt=rt)
            matches = await self._people_it_would_match(session, person, case.field, value, rt=rt)
            if matches and not body.confirmed_distinct:
                raise CorrectionMatchesAnotherPerson(matching_person_ids=[*matches])
            confirmed_distinct_from = matches
            await person_service.update_field(session, person, case.field, value, rt=rt)
            await rt.outbox.add(
                session,
                "identity.person.updated",
                {"person_id": person.id, "sub": person.sub, "correction_id": case.id, "changed_fields": [case.field]},
            )
        case.status = CorrectionStatus.approved if body.decision == "approve" else CorrectionStatus.rejected
        case.decided_at, case.decided_by = rt.clock.now(), caller.client_id
        decided: dict[str, object] = {"correction_id": case.id, "person_id": person.id, "decision": case.status}
        if confirmed_distinct_from:
            decided["confirmed_distinct_from"] = [*confirmed_distinct_from]
        await rt.outbox.add(session, "identity.correction.decided", decided)
        log.info("identity.correction.decided", correction_id=case.id, decision=case.status)
        return self._case_read(case, rt=rt)

    async def escalate_overdue(self, session: AsyncSession, *, rt: Runtime) -> EscalationResult:
        """Mark every open case past its due date escalated and announce it to oversight (the SG-GRIEV-2 queue)."""
        now = rt.clock.now()
        cases = await CorrectionRepository.from_session(session).open_and_overdue(now)
        for case in cases:
            case.status, case.escalated_at = CorrectionStatus.escalated, now
            await rt.outbox.add(
                session,
                "identity.correction.escalated",
                {"correction_id": case.id, "person_id": case.person_id, "due_at": case.due_at.isoformat()},
            )
            log.info("identity.correction.escalated", correction_id=case.id)
        return EscalationResult(escalated=[case.id for case in cases])

    @staticmethod
    async def _people_it_would_match(
        session: AsyncSession, person: Person, field: str, value: str | None, *, rt: Runtime
    ) -> tuple[str, ...]:
        """Other people the record would match by name and date of birth once `field` is `value` (SG-ID-1).

        The new key is locked as enrolment locks it, so an enrolment racing this approval sees the corrected record.
        """
        if field not in (*NAME_FIELDS, "date_of_birth"):
            return ()
        current = await person_service.read_attributes(session, person.id, rt=rt)
        index = person_service.name_dob_index({**current, field: value}, rt)
        if index == person.name_dob_index:
            return ()
        repository = PersonRepository.from_session(session)
        await repository.lock_dedup_keys([index])
        candidates = await repository.find_duplicate_candidates(name_dob_index=index, biometric_hash=None)
        return tuple(candidate.id for candidate in candidates if candidate.id != person.id)

    async def _check_value(
        self, session: AsyncSession, person: Person, field: str, value: str | None, *, rt: Runtime
    ) -> None:
        """What the schema cannot check: a birth date in the past, a required field kept, at least one name left."""
        if field == "date_of_birth" and value is not None and date.fromisoformat(value) > rt.clock.now().date():
            raise InvalidPersonalData("value", "the date of birth is in the future")
        if value is not None:
            return
        if field in ("date_of_birth", "residency_status"):
            raise InvalidPersonalData("value", f"{field} cannot be cleared, only corrected")
        if field in NAME_FIELDS:
            current = await person_service.read_attributes(session, person.id, rt=rt)
            if not any(current.get(name) for name in NAME_FIELDS if name != field):
                raise InvalidPersonalData("value", "the record must keep at least one name")

    async def _case(self, session: AsyncSession, case_id: str, *, for_update: bool = False) -> CorrectionCase:
        case = await CorrectionRepository.from_session(session).get(case_id, for_update=for_update)
        if case is None:
            raise CorrectionNotFound(f"No correction case {case_id}.")
        return case

    @staticmethod
    def _value(case: CorrectionCase, *, rt: Runtime) -> str | None:
        if case.value_key_id is None or case.value_ciphertext is None:
            return None
        return rt.keyring.cipher.decrypt(case.value_key_id, case.value_ciphertext, context=_context(case.id, "value"))

    def _view(self, case: CorrectionCase, *, rt: Runtime) -> dict[str, object]:
        return {
            "id": case.id,
            "field": case.field,
            "value": self._value(case, rt=rt),
            "reason": rt.keyring.cipher.decrypt(
                case.reason_key_id, case.reason_ciphertext, context=_context(case.id, "reason")
            ),
            "status": case.status,
            "channel": case.channel,
            "created_at": case.created_at,
            "due_at": case.due_at,
            "overdue": case.status in UNDECIDED and case.due_at < rt.clock.now(),
            "escalated_at": case.escalated_at,
            "decided_at": case.decided_at,
        }

    def _case_read(self, case: CorrectionCase, *, rt: Runtime) -> CorrectionCaseRead:
        return CorrectionCaseRead.model_validate({**self._view(case, rt=rt), "person_id": case.person_id})


correction = CorrectionService()

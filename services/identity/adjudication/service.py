"""SG-ID-1: only an adjudicator resolves a suspected duplicate; no UIN is issued before the decision."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.identity.adjudication.errors import CaseAlreadyDecided, CaseNotFound
from services.identity.adjudication.models import AdjudicationCase, CaseStatus, Decision, MatchSignal
from services.identity.adjudication.repository import AdjudicationRepository
from services.identity.adjudication.schemas import AdjudicationCasePage, AdjudicationCaseRead, AdjudicationDecision
from services.identity.deps import Runtime
from services.identity.persons.models import Person, PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)


class AdjudicationService:
    async def get(self, session: AsyncSession, caller: Caller, case_id: str) -> AdjudicationCaseRead:
        case = await self._case(session, case_id)
        return self._read(case, await self._person(session, case))

    async def list(
        self, session: AsyncSession, caller: Caller, *, status: CaseStatus | None, paging: PageRequest
    ) -> AdjudicationCasePage:
        """The adjudicators' queue: cases oldest first, optionally of one status."""
        rows = await AdjudicationRepository.from_session(session).queue_page(paging, status=status)
        return AdjudicationCasePage.of(rows, paging, position=lambda row: row[0].id, item=lambda row: self._read(*row))

    async def decide(
        self, session: AsyncSession, caller: Caller, case_id: str, body: AdjudicationDecision, *, rt: Runtime
    ) -> AdjudicationCaseRead:
        """Record the decision: `distinct` issues the held enrolment's UIN, `duplicate` refuses and links it."""
        case = await self._case(session, case_id, for_update=True)
        if case.status != CaseStatus.open:
            raise CaseAlreadyDecided(f"Case {case.id} was decided {case.decision} already.")
        person = await self._person(session, case)
        now = rt.clock.now()
        case.status, case.decision = CaseStatus.decided, body.decision
        case.decided_by, case.decided_at = caller.client_id, now
        payload = {"adjudication_case_id": case.id, "person_id": person.id, "decision": body.decision.value}
        if body.decision is Decision.distinct:
            await person_service.issue_uin(session, person, rt=rt)
        else:
            person.status = PersonStatus.refused_duplicate
            person.duplicate_of = case.candidate_person_ids[0]
            person.updated_at = now
            payload["duplicate_of"] = person.duplicate_of
        await rt.outbox.add(session, "identity.adjudication.decided", payload)
        log.info("identity.adjudication.decided", adjudication_case_id=case.id, decision=body.decision.value)
        return self._read(case, person)

    async def open_case(
        self,
        session: AsyncSession,
        person: Person,
        candidates: Sequence[Person],
        biometric_hash: str | None,
        *,
        rt: Runtime,
    ) -> str:
        """Open the case for a held enrolment (persons' `HoldForAdjudication`); returns its id."""
        signals = []
        if any(c.name_dob_index == person.name_dob_index for c in candidates):
            signals.append(MatchSignal.demographic)
        if biometric_hash is not None and any(c.biometric_hash == biometric_hash for c in candidates):
            signals.append(MatchSignal.biometric)
        case = AdjudicationCase(
            id=new_id("adj"),
            person_id=person.id,
            candidate_person_ids=[c.id for c in candidates],
            match_signals=[s.value for s in signals],
            status=CaseStatus.open,
            created_at=rt.clock.now(),
        )
        session.add(case)
        await session.flush()
        await rt.outbox.add(
            session, "identity.enrolment.held", {"person_id": person.id, "adjudication_case_id": case.id}
        )
        log.info("identity.enrolment.held", person_id=person.id, adjudication_case_id=case.id)
        return case.id

    async def _case(self, session: AsyncSession, case_id: str, *, for_update: bool = False) -> AdjudicationCase:
        case = await AdjudicationRepository.from_session(session).get(case_id, for_update=for_update)
        if case is None:
            raise CaseNotFound(f"No adjudication case {case_id}.")
        return case

    async def _person(self, session: AsyncSession, case: AdjudicationCase) -> Person:
        person = await PersonRepository.from_session(session).get(case.person_id)
        assert person is not None, "a case always points at its held enrolment (foreign key)"
        return person

    @staticmethod
    def _read(case: AdjudicationCase, person: Person) -> AdjudicationCaseRead:
        return AdjudicationCaseRead.model_validate(
            {
                "id": case.id,
                "status": case.status,
                "person_id": case.person_id,
                "person_status": person.status,
                "candidate_person_ids": case.candidate_person_ids,
                "match_signals": case.match_signals,
                "decision": case.decision,
                "created_at": case.created_at,
                "decided_at": case.decided_at,
            }
        )


adjudication = AdjudicationService()

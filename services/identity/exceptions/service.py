"""SG-INCL-1: no foundational ID is never a dead end. The request is accepted into an exception case (202), an
officer verifies the alternative evidence within an SLA, and the requester learns the outcome, and, if the officer
linked an enrolled person, only its own pairwise token for them."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.common.problems import DEFAULT_GRIEVANCE, Grievance, PolicyDenied
from services.identity.deps import Runtime
from services.identity.exceptions.errors import ExceptionCaseAlreadyDecided, ExceptionCaseNotFound
from services.identity.exceptions.models import ExceptionStatus, IdentityExceptionCase
from services.identity.exceptions.repository import ExceptionCaseRepository
from services.identity.exceptions.schemas import (
    ExceptionCaseAccepted,
    ExceptionCaseCreate,
    ExceptionCasePage,
    ExceptionCaseRead,
    ExceptionDecision,
    ExceptionOutcome,
)
from services.identity.notifications.service import notification as notification_service
from services.identity.persons.errors import InvalidPersonalData
from services.identity.persons.models import Person
from services.identity.persons.service import person as person_service
from services.identity.tokens.schemas import PairwiseTokenRequest
from services.identity.tokens.service import token as token_service

log = structlog.get_logger(__name__)


def _context(case_id: str, part: str) -> str:
    return f"identity-exception:{case_id}:{part}"


def status_href(case_id: str) -> str:
    return f"/v1/identity-exceptions/{case_id}"


class IdentityExceptionService:
    async def open(
        self,
        session: AsyncSession,
        caller: Caller,
        body: ExceptionCaseCreate,
        *,
        rt: Runtime,
    ) -> ExceptionCaseAccepted:
        """Accept the request into the exception path (the router makes it idempotent by Idempotency-Key)."""
        self._admit(caller)
        now = rt.clock.now()
        if body.claimed_date_of_birth is not None and body.claimed_date_of_birth > now.date():
            raise InvalidPersonalData("claimed_date_of_birth", "the date of birth is in the future")

        case_id = new_id("iex")
        encrypt = rt.keyring.cipher.encrypt
        evidence_key_id, evidence = encrypt(body.evidence_reference, context=_context(case_id, "evidence"))
        name_key_id, name = self._encrypt_optional(body.claimed_name, case_id, "claimed_name", rt=rt)
        dob = body.claimed_date_of_birth.isoformat() if body.claimed_date_of_birth else None
        dob_key_id, dob_ciphertext = self._encrypt_optional(dob, case_id, "claimed_dob", rt=rt)
        contact_key_id, contact = self._encrypt_optional(body.contact, case_id, "contact", rt=rt)
        case = IdentityExceptionCase(
            id=case_id,
            status=ExceptionStatus.pending,
            purpose=body.purpose,
            evidence_type=body.evidence_type.value,
            evidence_key_id=evidence_key_id,
            evidence_ciphertext=evidence,
            claimed_name_key_id=name_key_id,
            claimed_name_ciphertext=name,
            claimed_dob_key_id=dob_key_id,
            claimed_dob_ciphertext=dob_ciphertext,
            contact_key_id=contact_key_id,
            contact_ciphertext=contact,
            channel=caller.channel,
            requested_by=caller.client_id,
            assisted_by=caller.assisted_by,
            created_at=now,
            sla_due_at=now + timedelta(days=rt.settings.identity_exception_sla_days),
        )
        session.add(case)
        await session.flush()
        ids = {"case_id": case.id, "requested_by": case.requested_by, "assisted_by": case.assisted_by}
        await rt.outbox.add(session, "identity.exception.opened", ids)
        if case.contact_ciphertext is not None:
            await self._notice_requested(session, case, "opened", rt=rt)
        log.info("identity.exception.opened", case_id=case.id, evidence_type=case.evidence_type)
        return self._accepted(case)

    async def get(self, session: AsyncSession, caller: Caller, case_id: str, *, rt: Runtime) -> ExceptionCaseRead:
        """A registrar sees any case; a requester only its own, with its own pairwise token once linked."""
        case = await self._case(session, case_id)
        if caller.has_role("registrar"):
            return self._read(case, rt=rt, person_id=case.person_id)
        if case.requested_by != caller.client_id:
            # 403, not 404: a denial is never hidden (DESIGN §5); the id is random and the answer names nobody.
            raise PolicyDenied(
                "SG-SEC-1",
                "Only the client that opened this exception case, or a registrar, can read it.",
            )
        token = None
        if case.person_id is not None:
            person = await self._active_person(session, case.person_id)
            token = await self._pairwise_token(session, caller, person, caller.client_id, rt=rt)
        return self._read(case, rt=rt, person_token=token)

    async def list(
        self,
        session: AsyncSession,
        caller: Caller,
        *,
        status: ExceptionStatus | None,
        overdue: bool,
        paging: PageRequest,
        rt: Runtime,
    ) -> ExceptionCasePage:
        """The officers' queue in creation order; with `overdue`, only pending cases past their SLA by the clock."""
        cases = await ExceptionCaseRepository.from_session(session).queue_page(
            paging, status=status, overdue_at=rt.clock.now() if overdue else None
        )
        return ExceptionCasePage.of(
            cases, paging, position=lambda case: case.id, item=lambda c: self._read(c, rt=rt, person_id=c.person_id)
        )

    async def decide(
        self, session: AsyncSession, caller: Caller, case_id: str, body: ExceptionDecision, *, rt: Runtime
    ) -> ExceptionCaseRead:
        """Verify (optionally linking an enrolled person) or reject; each decision is an event."""
        case = await self._case(session, case_id, for_update=True)
        if case.status != ExceptionStatus.pending:
            raise ExceptionCaseAlreadyDecided(f"Identity exception case {case.id} was {case.status} already.")
        now = rt.clock.now()
        if body.person_id is not None:
            person = await self._active_person(session, body.person_id)
            # Registers the requester's token so the gateway can resolve it later; the value is shown only to them.
            await self._pairwise_token(session, caller, person, case.requested_by, rt=rt)
            # The person's record was used on someone's behalf: they are told who and how to complain (SG-NOTIFY-1).
            await notification_service.send_access_notice(
                session,
                person,
                requester=case.requested_by,
                operation="identity exception",
                factor="alternative evidence",
                success=True,
                at=now,
                rt=rt,
            )
            case.person_id = person.id
        case.status = ExceptionStatus(body.decision)
        case.decided_at, case.decided_by = now, caller.client_id
        case.reason_key_id, case.reason_ciphertext = rt.keyring.cipher.encrypt(
            body.reason, context=_context(case.id, "reason")
        )
        await rt.outbox.add(
            session,
            "identity.exception.decided",
            {"case_id": case.id, "decision": case.status, "person_id": case.person_id},
        )
        if case.contact_ciphertext is not None:
            await self._notice_requested(session, case, "decided", rt=rt)
        log.info("identity.exception.decided", case_id=case.id, decision=case.status, linked=case.person_id is not None)
        return self._read(case, rt=rt, person_id=case.person_id)

    @staticmethod
    def _admit(caller: Caller) -> None:
        """The assisted channel must name the registered operator who helps (SG-INCL-3)."""
        if (caller.has_role("assisted_operator") or caller.channel == "assisted") and not caller.assisted_by:
            raise PolicyDenied(
                "SG-INCL-3",
                "An assisted request must name the assisting operator (X-Assisted-By at the gateway).",
            )

    @staticmethod
    async def _notice_requested(session: AsyncSession, case: IdentityExceptionCase, stage: str, *, rt: Runtime) -> None:
        # The contact is not a registered person, so the simulated SMS/e-mail outbox (keyed by person) cannot hold
        # it: the event asks a notifier to write; the contact stays encrypted here and the event carries ids only.
        await rt.outbox.add(session, "identity.exception.notice_requested", {"case_id": case.id, "stage": stage})

    @staticmethod
    def _encrypt_optional(
        value: str | None, case_id: str, part: str, *, rt: Runtime
    ) -> tuple[str | None, bytes | None]:
        if value is None:
            return None, None
        return rt.keyring.cipher.encrypt(value, context=_context(case_id, part))

    async def _active_person(self, session: AsyncSession, person_id: str) -> Person:
        person = await person_service.get_active(session, person_id)
        if person is None:
            raise InvalidPersonalData("person_id", "no enrolled person with a UIN has this id")
        return person

    @staticmethod
    async def _pairwise_token(
        session: AsyncSession, caller: Caller, person: Person, relying_party_id: str, *, rt: Runtime
    ) -> str:
        request = PairwiseTokenRequest(relying_party_id=relying_party_id)
        return (await token_service.pairwise_token(session, caller, person.sub, request, rt=rt)).token

    async def _case(self, session: AsyncSession, case_id: str, *, for_update: bool = False) -> IdentityExceptionCase:
        case = await ExceptionCaseRepository.from_session(session).get(case_id, for_update=for_update)
        if case is None:
            raise ExceptionCaseNotFound(f"No identity exception case {case_id}.")
        return case

    @staticmethod
    def _accepted(case: IdentityExceptionCase) -> ExceptionCaseAccepted:
        return ExceptionCaseAccepted(
            case_id=case.id,
            status=ExceptionStatus(case.status),
            sla_due_at=case.sla_due_at,
            status_href=status_href(case.id),
            grievance=Grievance.model_validate(DEFAULT_GRIEVANCE),
        )

    @staticmethod
    def _read(
        case: IdentityExceptionCase, *, rt: Runtime, person_id: str | None = None, person_token: str | None = None
    ) -> ExceptionCaseRead:
        outcome = None
        if case.decided_at is not None and case.reason_key_id is not None and case.reason_ciphertext is not None:
            reason = rt.keyring.cipher.decrypt(
                case.reason_key_id, case.reason_ciphertext, context=_context(case.id, "reason")
            )
            outcome = ExceptionOutcome(
                decision="verified" if case.status == ExceptionStatus.verified else "rejected",
                reason=reason,
                decided_at=case.decided_at,
                linked=case.person_id is not None,
            )
        return ExceptionCaseRead.model_validate(
            {
                "id": case.id,
                "status": case.status,
                "purpose": case.purpose,
                "evidence_type": case.evidence_type,
                "channel": case.channel,
                "requested_by": case.requested_by,
                "assisted_by": case.assisted_by,
                "created_at": case.created_at,
                "sla_due_at": case.sla_due_at,
                "overdue": case.status == ExceptionStatus.pending and case.sla_due_at < rt.clock.now(),
                "outcome": outcome,
                "person_token": person_token,
                "person_id": person_id,
            }
        )


identity_exception = IdentityExceptionService()

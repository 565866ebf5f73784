"""Delivery through the simulated SMS/e-mail gateway, and the trainer's view of what was "sent". Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.common.problems import DEFAULT_GRIEVANCE
from services.identity.deps import Runtime
from services.identity.notifications.models import MessageChannel, MessageKind, SimulatedMessage
from services.identity.notifications.repository import MessageRepository
from services.identity.notifications.schemas import SimulatedMessagePage, SimulatedMessageRead
from services.identity.notifications.templates import RESULT_WORDS, choose_language, render
from services.identity.persons.errors import SubjectNotFound
from services.identity.persons.models import Person
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Delivery:
    message_id: str
    channel: MessageChannel
    destination: str  # masked


def mask_phone(phone: str) -> str:
    digits = [c for c in phone if c.isdigit()]
    return "*" * max(len(digits) - 4, 2) + "".join(digits[-4:])


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _context(message_id: str) -> str:
    return f"message:{message_id}"


class NotificationService:
    async def send_otp(
        self, session: AsyncSession, person: Person, *, code: str, requester: str, rt: Runtime
    ) -> Delivery | None:
        """Send a one-time code by SMS (else e-mail); None if the person has neither on record."""
        minutes = str(max(rt.settings.otp_ttl_seconds // 60, 1))
        return await self._send(
            session, person, MessageKind.otp, rt=rt, requester=requester, code=code, minutes=minutes
        )

    async def send_access_notice(
        self,
        session: AsyncSession,
        person: Person,
        *,
        requester: str,
        operation: str,
        factor: str,
        success: bool,
        at: datetime,
        rt: Runtime,
    ) -> Delivery | None:
        """Tell the person their identity was used (SG-NOTIFY-1), if they agreed to notices by phone or e-mail."""
        if not person.consent_notices:
            return None
        return await self._send(
            session,
            person,
            MessageKind.access_notice,
            rt=rt,
            requester=requester,
            operation=operation,
            factor=factor,
            time=at.strftime("%Y-%m-%d %H:%M"),
            result="success" if success else "failure",
            grievance=DEFAULT_GRIEVANCE["href"],
        )

    async def list(
        self,
        session: AsyncSession,
        caller: Caller,
        *,
        recipient_sub: str,
        kind: MessageKind | None,
        paging: PageRequest,
        rt: Runtime,
    ) -> SimulatedMessagePage:
        """A person's simulated messages, newest first."""
        person = await PersonRepository.from_session(session).get_by_sub(recipient_sub)
        if person is None:
            raise SubjectNotFound("No person has this subject reference.")
        rows = await MessageRepository.from_session(session).messages_page(person.id, paging, kind=kind)
        return SimulatedMessagePage.of(
            rows,
            paging,
            position=lambda row: row.id,
            item=lambda row: SimulatedMessageRead(
                id=row.id,
                recipient_sub=person.sub,
                channel=MessageChannel(row.channel),
                destination=row.destination_masked,
                kind=MessageKind(row.kind),
                language=row.language,
                language_fallback=row.language_fallback,
                body=rt.keyring.cipher.decrypt(row.key_id, row.ciphertext, context=_context(row.id)),
                created_at=row.created_at,
            ),
        )

    async def _send(
        self, session: AsyncSession, person: Person, kind: MessageKind, *, rt: Runtime, **values: str
    ) -> Delivery | None:
        contact = await person_service.read_attributes(session, person.id, rt=rt)
        if phone := contact.get("phone"):
            channel, destination = MessageChannel.sms, mask_phone(phone)
        elif email := contact.get("email"):
            channel, destination = MessageChannel.email, mask_email(email)
        else:
            return None
        language, fallback = choose_language(contact.get("preferred_language"))
        if "result" in values:
            values["result"] = RESULT_WORDS[language][values["result"]]
        message_id = new_id("msg")
        key_id, ciphertext = rt.keyring.cipher.encrypt(render(kind, language, **values), context=_context(message_id))
        session.add(
            SimulatedMessage(
                id=message_id,
                person_id=person.id,
                channel=channel,
                destination_masked=destination,
                kind=kind,
                language=language,
                language_fallback=fallback,
                key_id=key_id,
                ciphertext=ciphertext,
                created_at=rt.clock.now(),
            )
        )
        await session.flush()
        log.info("identity.message.simulated", message_id=message_id, person_id=person.id, kind=kind.value)
        return Delivery(message_id=message_id, channel=channel, destination=destination)


notification = NotificationService()

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
from services.identity.notifications.schemas import (
    NoticeDelivery,
    NoticeRequest,
    NotificationPage,
    NotificationRead,
    SimulatedMessagePage,
    SimulatedMessageRead,
)
from services.identity.notifications.templates import choose_language, direction, render
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
        """Tell the person their identity was used (SG-NOTIFY-1): by SMS or e-mail if they agreed to notices there,
        and in their app inbox in any case."""
        return await self._send(
            session,
            person,
            MessageKind.access_notice,
            rt=rt,
            external=person.consent_notices,
            inbox=True,
            requester=requester,
            operation=operation,
            factor=factor,
            time=at.strftime("%Y-%m-%d %H:%M"),
            result="success" if success else "failure",
            grievance=DEFAULT_GRIEVANCE["href"],
        )

    async def send_data_access_notice(
        self,
        session: AsyncSession,
        person: Person,
        *,
        requester: str,
        fields: list[str],
        purpose: str,
        at: datetime,
        rt: Runtime,
    ) -> Delivery | None:
        """Tell the person an organisation received items of their data (SG-NOTIFY-1): by SMS or e-mail if they
        agreed to notices there, and in their app inbox in any case."""
        return await self._send(
            session,
            person,
            MessageKind.data_access,
            rt=rt,
            external=person.consent_notices,
            inbox=True,
            requester=requester,
            count=str(len(fields)),
            fields=", ".join(fields),
            purpose=purpose,
            time=at.strftime("%Y-%m-%d %H:%M"),
            grievance=DEFAULT_GRIEVANCE["href"],
        )

    async def send_breach_notice(
        self, session: AsyncSession, person: Person, *, organisation: str, data: list[str], at: datetime, rt: Runtime
    ) -> Delivery | None:
        """Tell the person a security incident may have exposed their data, and how to get a new VID
        (SG-BREACH-1): always, whatever their notice preferences, by SMS or e-mail where possible."""
        return await self._send(
            session,
            person,
            MessageKind.breach,
            rt=rt,
            external=True,
            inbox=True,
            requester=organisation,
            data=", ".join(data),
            time=at.strftime("%Y-%m-%d %H:%M"),
            grievance=DEFAULT_GRIEVANCE["href"],
        )

    async def notify(self, session: AsyncSession, sub: str, body: NoticeRequest, *, rt: Runtime) -> NoticeDelivery:
        """The gateway's request to tell a person about an access to their data, or a breach."""
        person = await person_service.get_active_by_sub(session, sub)
        if body.kind is MessageKind.breach:
            delivery = await self.send_breach_notice(session, person, organisation=body.organisation, data=body.items,
                                                     at=body.at, rt=rt)  # fmt: skip
        else:
            delivery = await self.send_data_access_notice(
                session, person, requester=body.organisation, fields=body.items, purpose=body.purpose or "-",
                at=body.at, rt=rt,
            )  # fmt: skip
        assert delivery is not None, "notices with an inbox always have a channel"
        message = await MessageRepository.from_session(session).get(delivery.message_id)
        assert message is not None
        return NoticeDelivery(
            message_id=message.id,
            channel=MessageChannel(message.channel),
            language=message.language,
            language_fallback=message.language_fallback,
            direction=direction(message.language),
        )

    async def mine(
        self, session: AsyncSession, caller: Caller, *, paging: PageRequest, rt: Runtime
    ) -> NotificationPage:
        """My notices, newest first, decrypted, with the text direction of their language."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        rows = await MessageRepository.from_session(session).messages_page(person.id, paging, kind=None)
        return NotificationPage.of(
            rows,
            paging,
            position=lambda row: row.id,
            item=lambda row: NotificationRead(
                id=row.id,
                channel=MessageChannel(row.channel),
                kind=MessageKind(row.kind),
                language=row.language,
                language_fallback=row.language_fallback,
                direction=direction(row.language),
                body=rt.keyring.cipher.decrypt(row.key_id, row.ciphertext, context=_context(row.id)),
                created_at=row.created_at,
            ),
        )

    async def send_guess_ceiling(
        self, session: AsyncSession, person: Person, *, count: int, until: datetime, rt: Runtime
    ) -> Delivery | None:
        """Tell the person their PIN is paused everywhere after `count` wrong guesses, and how to end the pause. A
        security notice: sent whether or not they asked for access notices."""
        return await self._send(
            session,
            person,
            MessageKind.guess_ceiling,
            rt=rt,
            inbox=True,
            count=str(count),
            until=until.strftime("%Y-%m-%d %H:%M"),
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
        self,
        session: AsyncSession,
        person: Person,
        kind: MessageKind,
        *,
        rt: Runtime,
        external: bool = True,
        inbox: bool = False,
        **values: str,
    ) -> Delivery | None:
        """Render the notice in the person's language and "send" it: by SMS if a phone is on record, else by
        e-mail, else (or when `external` is off) to the app inbox if `inbox`; None where none of these applies."""
        contact = await person_service.read_attributes(session, person.id, rt=rt)
        if external and (phone := contact.get("phone")):
            channel, destination = MessageChannel.sms, mask_phone(phone)
        elif external and (email := contact.get("email")):
            channel, destination = MessageChannel.email, mask_email(email)
        elif inbox:
            channel, destination = MessageChannel.app, "app inbox"
        else:
            return None
        language, unsupported = choose_language(contact.get("preferred_language"))
        rendered = render(kind, language, **values)
        message_id = new_id("msg")
        key_id, ciphertext = rt.keyring.cipher.encrypt(rendered.text, context=_context(message_id))
        session.add(
            SimulatedMessage(
                id=message_id,
                person_id=person.id,
                channel=channel,
                destination_masked=destination,
                kind=kind,
                language=rendered.language,
                language_fallback=unsupported or rendered.fallback,
                key_id=key_id,
                ciphertext=ciphertext,
                created_at=rt.clock.now(),
            )
        )
        await session.flush()
        log.info("identity.message.simulated", message_id=message_id, person_id=person.id, kind=kind.value)
        return Delivery(message_id=message_id, channel=channel, destination=destination)


notification = NotificationService()

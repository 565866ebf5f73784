"""SG-GRIEV-1/2/4: anyone files a grievance on any channel; it is handled within published time limits, and what is
late escalates to oversight on a timer. A payment dispute names the signed payment record it is about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.caller import AuthenticatedCaller
from gateway.oversight.grievances.errors import GrievanceNotFound, GrievanceTransitionRefused
from gateway.oversight.grievances.models import (
    OPEN,
    Grievance,
    GrievanceCategory,
    GrievanceEvent,
    GrievanceStatus,
)
from gateway.oversight.grievances.repository import GrievanceRepository
from gateway.oversight.grievances.schemas import (
    GrievanceCreate,
    GrievanceHistoryEntry,
    GrievancePage,
    GrievanceRead,
    GrievanceTransition,
    Related,
    ServiceStandard,
    Sla,
)
from services.common.clock import Clock
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.paging import PageRequest
from services.common.problems import PolicyDenied

log = structlog.get_logger(__name__)

# Who may move a ticket from one state to another. Escalated tickets are oversight's.
ALLOWED = {
    GrievanceStatus.received: {GrievanceStatus.acknowledged, GrievanceStatus.in_review, GrievanceStatus.resolved},
    GrievanceStatus.acknowledged: {GrievanceStatus.in_review, GrievanceStatus.resolved},
    GrievanceStatus.in_review: {GrievanceStatus.resolved},
    GrievanceStatus.escalated: {GrievanceStatus.in_review, GrievanceStatus.resolved},
    GrievanceStatus.resolved: set(),
}


@dataclass(frozen=True)
class GrievanceRuntime:
    clock: Clock
    outbox: Outbox
    standard: ServiceStandard


class GrievanceService:
    async def file(
        self,
        session: AsyncSession,
        caller: AuthenticatedCaller,
        body: GrievanceCreate,
        *,
        assisted_by: str | None,
        rt: GrievanceRuntime,
    ) -> GrievanceRead:
        """A person files a grievance about themselves, on any channel (assisted: the operator is recorded)."""
        sub = _subject(caller)
        if body.channel == "assisted" and not assisted_by:
            raise PolicyDenied(
                "SG-INCL-3", "A grievance filed with an operator's help names the operator (X-Assisted-By)."
            )
        now = rt.clock.now()
        resolve_days = (
            rt.standard.payment_disputes_resolve_within_days
            if body.category is GrievanceCategory.payment
            else rt.standard.resolve_within_days
        )
        grievance = Grievance(
            id=new_id("grv"),
            sub=sub,
            opened_by=caller.client_id,
            channel=body.channel,
            assisted_by=assisted_by if body.channel == "assisted" else None,
            category=body.category,
            description=body.description,
            rule_id=body.rule_id,
            audit_event_id=body.audit_event_id,
            payment_record_id=body.payment_record_id,
            consent_id=body.consent_id,
            status=GrievanceStatus.received,
            acknowledge_by=now + timedelta(hours=rt.standard.acknowledge_within_hours),
            resolve_by=now + timedelta(days=resolve_days),
            created_at=now,
            updated_at=now,
        )
        session.add(grievance)
        session.add(_event(grievance, GrievanceStatus.received, caller.client_id, body.channel, None, at=now))
        await rt.outbox.add(session, "gateway.grievance.received", _announcement(grievance))
        await session.flush()
        log.info("gateway.grievance.received", grievance_id=grievance.id, category=grievance.category)
        return await self._read(session, grievance, now)

    async def mine(
        self, session: AsyncSession, caller: AuthenticatedCaller, *, paging: PageRequest, rt: GrievanceRuntime
    ) -> GrievancePage:
        return await self._page(session, paging, sub=_subject(caller), status=None, overdue=False, rt=rt)

    async def one_of_mine(
        self, session: AsyncSession, caller: AuthenticatedCaller, grievance_id: str, *, rt: GrievanceRuntime
    ) -> GrievanceRead:
        grievance = await GrievanceRepository.from_session(session).get(grievance_id)
        if grievance is None or grievance.sub != _subject(caller):
            raise GrievanceNotFound("You have no grievance with this id.")
        return await self._read(session, grievance, rt.clock.now())

    async def queue(
        self,
        session: AsyncSession,
        *,
        status: GrievanceStatus | None,
        overdue: bool,
        paging: PageRequest,
        rt: GrievanceRuntime,
    ) -> GrievancePage:
        return await self._page(session, paging, sub=None, status=status, overdue=overdue, rt=rt)

    async def get(self, session: AsyncSession, grievance_id: str, *, rt: GrievanceRuntime) -> GrievanceRead:
        grievance = await GrievanceRepository.from_session(session).get(grievance_id)
        if grievance is None:
            raise GrievanceNotFound("There is no grievance with this id.")
        return await self._read(session, grievance, rt.clock.now())

    async def transition(
        self,
        session: AsyncSession,
        caller: AuthenticatedCaller,
        grievance_id: str,
        body: GrievanceTransition,
        *,
        rt: GrievanceRuntime,
    ) -> GrievanceRead:
        """A grievance officer (or oversight, for escalated tickets) moves a ticket on."""
        grievance = await GrievanceRepository.from_session(session).get(grievance_id, for_update=True)
        if grievance is None:
            raise GrievanceNotFound("There is no grievance with this id.")
        current = GrievanceStatus(grievance.status)
        if body.to not in ALLOWED[current]:
            raise GrievanceTransitionRefused(f"A {current} grievance cannot become {body.to}.")
        if current is GrievanceStatus.escalated and not caller.has_role("oversight"):
            raise PolicyDenied("SG-GRIEV-2", "An escalated grievance is in oversight's hands now.")
        if body.to is GrievanceStatus.resolved and not body.note:
            raise GrievanceTransitionRefused("A resolution says what was decided (note).")
        now = rt.clock.now()
        grievance.status = body.to
        grievance.updated_at = now
        grievance.acknowledged_at = grievance.acknowledged_at or now  # any move on acknowledges the ticket
        if body.to is GrievanceStatus.resolved:
            grievance.resolved_at, grievance.resolution = now, body.note
        session.add(_event(grievance, body.to, caller.client_id, None, body.note, at=now))
        await rt.outbox.add(session, f"gateway.grievance.{body.to}", _announcement(grievance))
        await session.flush()
        return await self._read(session, grievance, now)

    async def escalate_overdue(self, session: AsyncSession, *, rt: GrievanceRuntime) -> list[str]:
        """Every open ticket past a time limit goes to oversight, announced once (SG-GRIEV-2)."""
        now = rt.clock.now()
        escalated = []
        for grievance in await GrievanceRepository.from_session(session).open_and_overdue(now):
            grievance.status, grievance.escalated_at, grievance.updated_at = GrievanceStatus.escalated, now, now
            session.add(_event(grievance, GrievanceStatus.escalated, "sla-timer", None, "past its time limit", at=now))
            await rt.outbox.add(session, "gateway.grievance.escalated", _announcement(grievance))
            escalated.append(grievance.id)
        if escalated:
            log.info("gateway.grievance.escalated", count=len(escalated))
        return escalated

    async def _page(
        self,
        session: AsyncSession,
        paging: PageRequest,
        *,
        sub: str | None,
        status: GrievanceStatus | None,
        overdue: bool,
        rt: GrievanceRuntime,
    ) -> GrievancePage:
        now = rt.clock.now()
        rows = await GrievanceRepository.from_session(session).queue(
            paging, sub=sub, status=status, overdue_at=now if overdue else None
        )
        read = {g.id: g for g in await self._read_many(session, list(rows[: paging.limit]), now)}
        return GrievancePage.of(rows, paging, position=lambda row: row.id, item=lambda row: read[row.id])

    async def _read(self, session: AsyncSession, grievance: Grievance, now: datetime) -> GrievanceRead:
        return (await self._read_many(session, [grievance], now))[0]

    async def _read_many(
        self, session: AsyncSession, grievances: list[Grievance], now: datetime
    ) -> list[GrievanceRead]:
        history = await GrievanceRepository.from_session(session).history([g.id for g in grievances])
        return [
            GrievanceRead(
                id=g.id,
                status=GrievanceStatus(g.status),
                category=GrievanceCategory(g.category),
                description=g.description,
                channel=g.channel,
                assisted_by=g.assisted_by,
                related=Related(
                    rule_id=g.rule_id,
                    audit_event_id=g.audit_event_id,
                    payment_record_id=g.payment_record_id,
                    consent_id=g.consent_id,
                ),
                sla=Sla(acknowledge_by=g.acknowledge_by, resolve_by=g.resolve_by, overdue=is_overdue(g, now)),
                acknowledged_at=g.acknowledged_at,
                resolved_at=g.resolved_at,
                escalated_at=g.escalated_at,
                resolution=g.resolution,
                created_at=g.created_at,
                history=[
                    GrievanceHistoryEntry(
                        status=GrievanceStatus(e.status), actor=e.actor, channel=e.channel, note=e.note, at=e.at
                    )
                    for e in history[g.id]
                ],
            )
            for g in grievances
        ]


def is_overdue(grievance: Grievance, now: datetime) -> bool:
    if grievance.status not in OPEN:
        return False
    late_ack = grievance.status == GrievanceStatus.received and grievance.acknowledge_by < now
    return late_ack or grievance.resolve_by < now


def met_its_time_limit(grievance: Grievance) -> bool | None:
    """For a resolved ticket, whether it was resolved in time; None while open."""
    if grievance.resolved_at is None:
        return None
    return grievance.resolved_at <= grievance.resolve_by


def _subject(caller: AuthenticatedCaller) -> str:
    if caller.subject_ref is None:
        raise PolicyDenied("SG-SEC-1", "Only a signed-in person files and reads their own grievances here.")
    return caller.subject_ref


def _event(
    grievance: Grievance, status: GrievanceStatus, actor: str, channel: str | None, note: str | None, *, at: datetime
) -> GrievanceEvent:
    return GrievanceEvent(
        id=new_id("grvevt"), grievance_id=grievance.id, status=status, actor=actor, channel=channel, note=note, at=at
    )


def _announcement(grievance: Grievance) -> dict[str, str | None]:
    """The event payload: ids and states only (the description stays in the ticket)."""
    return {
        "grievance_id": grievance.id,
        "sub": grievance.sub,
        "status": grievance.status,
        "category": grievance.category,
        "resolve_by": grievance.resolve_by.isoformat(),
        "payment_record_id": grievance.payment_record_id,
    }


grievance = GrievanceService()

"""SG-BREACH-1: oversight records a breach; every affected person is told within the configured deadline, in their
language, whatever their notice preferences; their VIDs and offline credentials can be reissued; the incident, each
notice, each reissue and a missed deadline are audit events, and the incidents are in the public statistics.

Order of effects: what other services do first (identity resolves VIDs, reissues), then the audit event, then the
gateway's own rows, so the audit log never lacks something that happened (an event whose rows then failed to
commit is an attempt on record). On SQLite an audit append must not wait behind this request's own write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.audit.events import AuditEvent
from gateway.auth.caller import AuthenticatedCaller
from gateway.oversight.breaches.errors import BreachNotFound
from gateway.oversight.breaches.models import BreachIncident, BreachPerson
from gateway.oversight.breaches.repository import BreachRepository
from gateway.oversight.breaches.schemas import AffectedRead, BreachCreate, BreachPage, BreachRead, ReissueRun
from gateway.oversight.notices.models import NoticeKind, NoticeStatus, SubjectNotice
from gateway.oversight.notices.repository import NoticeRepository
from gateway.oversight.notices.service import NoticeRuntime
from gateway.rules.decisions import actor_type
from services.common.http import RemoteProblem
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.paging import PageRequest
from services.common.problems import InvalidInput
from services.identity.client import ReferenceType, SubjectReference

log = structlog.get_logger(__name__)

RULE = ("SG-BREACH-1",)


@dataclass(frozen=True)
class BreachRuntime:
    notices: NoticeRuntime
    outbox: Outbox
    notify_within: timedelta
    wake: Callable[[], None]  # the notice sender: there is something to send now
    sessionmaker: async_sessionmaker[AsyncSession]


class BreachService:
    async def record(
        self, session: AsyncSession, caller: AuthenticatedCaller, body: BreachCreate, *, rt: BreachRuntime
    ) -> BreachRead:
        clock = rt.notices.clock
        now = clock.now()
        if body.found_at > now:
            raise InvalidInput("found_at lies in the future; a breach is recorded once it has been found.")
        subs = await self._subjects(body, rt=rt)
        incident_id = new_id("brc")
        appended = await rt.notices.audit.append(
            AuditEvent(
                decision="permit", actor=caller.client_id, actor_type=actor_type(caller),
                action="POST /oversight/breaches", rule_ids=RULE, status=201,
                fields_returned=tuple(body.data_categories),
            )
        )  # fmt: skip
        incident = BreachIncident(
            id=incident_id,
            organisation=body.organisation,
            description=body.description,
            data_categories=",".join(body.data_categories),
            found_at=body.found_at,
            notify_by=body.found_at + rt.notify_within,
            recorded_by=caller.client_id,
            recorded_at=now,
            audit_event_id=appended.event_id,
        )
        session.add(incident)
        await session.flush()
        notices = NoticeRepository.from_session(session)
        for sub in subs:
            notice_id = new_id("ntc")
            await notices.add(
                {
                    "id": notice_id, "kind": NoticeKind.breach, "sub": sub, "organisation": body.organisation,
                    "items": ",".join(body.data_categories), "purpose": None, "occurred_at": body.found_at,
                    "due_at": now, "deadline": incident.notify_by, "audit_event_id": None,
                    "incident_id": incident_id, "status": NoticeStatus.pending, "attempts": 0, "created_at": now,
                }
            )  # fmt: skip
            session.add(BreachPerson(id=new_id("brp"), incident_id=incident_id, sub=sub, notice_id=notice_id))
        await rt.outbox.add(
            session,
            "gateway.breach.recorded",
            {"incident_id": incident_id, "affected": len(subs), "notify_by": incident.notify_by.isoformat()},
        )
        await session.flush()
        log.info("gateway.breach.recorded", incident_id=incident_id, affected=len(subs))
        rt.wake()
        return (await self._read(session, [incident]))[0]

    async def _subjects(self, body: BreachCreate, *, rt: BreachRuntime) -> list[str]:
        """Every affected person's `sub`, once each: VIDs are resolved by identity; one it does not know is refused."""
        subs: dict[str, None] = {}
        for position, person in enumerate(body.affected):
            if person.type == "sub":
                subs[person.value] = None
                continue
            reference = SubjectReference(type=ReferenceType.vid, value=person.value)
            try:
                resolution = await rt.notices.identity.resolve_subject(reference, assertion=rt.notices.assertion())
            except RemoteProblem:
                raise InvalidInput(f"affected[{position}]: the VID identifies no enrolled person.") from None
            subs[resolution.sub] = None
        return list(subs)

    async def get(self, session: AsyncSession, incident_id: str) -> BreachRead:
        incident = await BreachRepository.from_session(session).get(incident_id)
        if incident is None:
            raise BreachNotFound("There is no breach incident with this id.")
        return (await self._read(session, [incident]))[0]

    async def listing(self, session: AsyncSession, paging: PageRequest) -> BreachPage:
        rows = await BreachRepository.from_session(session).listing(paging)
        read = {r.id: r for r in await self._read(session, list(rows[: paging.limit]))}
        return BreachPage.of(rows, paging, position=lambda row: row.id, item=lambda row: read[row.id])

    async def reissue(self, caller: AuthenticatedCaller, incident_id: str, *, rt: BreachRuntime) -> ReissueRun:
        """Ask identity to withdraw every affected person's VIDs and offline credentials and issue new VIDs; each
        person once, whatever the number of calls (they are claimed first, in one UPDATE, in a transaction of its
        own: the claim holds, and on SQLite the audit log below needs the connection a request session would keep)."""
        async with rt.sessionmaker() as session, session.begin():
            repository = BreachRepository.from_session(session)
            if await repository.get(incident_id) is None:
                raise BreachNotFound("There is no breach incident with this id.")
            claimed = await repository.claim_unreissued(incident_id, rt.notices.clock.now())
        run = ReissueRun(people=0, vids_revoked=0, vids_issued=0, offline_credentials_revoked=0, not_reissued=0)
        done, refused, events = [], [], []
        for person_id, sub in claimed:
            try:
                result = await rt.notices.identity.reissue(sub, assertion=rt.notices.assertion())
            except (RemoteProblem, httpx.HTTPError) as failure:
                log.warning("gateway.breach.reissue_failed", incident_id=incident_id, reason=type(failure).__name__)
                refused.append(person_id)
                continue
            done.append((person_id, result))
            events.append(
                AuditEvent(
                    decision="permit", actor=caller.client_id, actor_type=actor_type(caller), sub=sub,
                    action="POST /oversight/breaches/{incident_id}/reissue", rule_ids=RULE, status=200,
                )
            )  # fmt: skip
        if events:
            await rt.notices.audit.append_many(events)
        async with rt.sessionmaker() as session, session.begin():
            repository = BreachRepository.from_session(session)
            for person_id, result in done:
                await repository.record_reissue(
                    person_id, vids_revoked=result.vids_revoked, vids_issued=result.vids_issued,
                    credentials=result.offline_credentials_revoked,
                )  # fmt: skip
                run.people += 1
                run.vids_revoked += result.vids_revoked
                run.vids_issued += result.vids_issued
                run.offline_credentials_revoked += result.offline_credentials_revoked
            for person_id in refused:
                await repository.release_reissue(person_id)
        run.not_reissued = len(refused)
        return run

    async def mark_missed_deadlines(self, session: AsyncSession, *, rt: BreachRuntime) -> list[AuditEvent]:
        """Incidents past their deadline with someone not told in time: marked once, announced to oversight, and
        returned as audit events (decision `deny`: the rule was not met) for the caller to append after commit."""
        now = rt.notices.clock.now()
        repository = BreachRepository.from_session(session)
        events = []
        for incident in await repository.past_deadline(now):
            notices = await NoticeRepository.from_session(session).of_incidents([incident.id])
            late = [n for n in notices if not _told_in_time(n, incident.notify_by)]
            if not late:
                continue
            incident.deadline_missed_at = now
            await rt.outbox.add(
                session,
                "gateway.breach.deadline_missed",
                {
                    "incident_id": incident.id,
                    "not_told_in_time": len(late),
                    "notify_by": incident.notify_by.isoformat(),
                },
            )
            events.append(
                AuditEvent(
                    decision="deny", actor="breach-timer", actor_type="gateway",
                    action=f"BREACH deadline {incident.id}", rule_ids=RULE,
                )
            )  # fmt: skip
            log.warning("gateway.breach.deadline_missed", incident_id=incident.id, late=len(late))
        await session.flush()
        return events

    async def _read(self, session: AsyncSession, incidents: list[BreachIncident]) -> list[BreachRead]:
        ids = [i.id for i in incidents]
        people = await BreachRepository.from_session(session).people(ids)
        notices = {n.id: n for n in await NoticeRepository.from_session(session).of_incidents(ids)}
        return [
            BreachRead(
                id=i.id,
                organisation=i.organisation,
                description=i.description,
                data_categories=i.data_categories.split(","),
                found_at=i.found_at,
                notify_by=i.notify_by,
                recorded_at=i.recorded_at,
                recorded_by=i.recorded_by,
                deadline_missed_at=i.deadline_missed_at,
                audit_event_id=i.audit_event_id,
                affected=[_affected(p, notices[p.notice_id], i.notify_by) for p in people[i.id]],
            )
            for i in incidents
        ]


def _told_in_time(notice: SubjectNotice, notify_by: datetime) -> bool:
    return notice.sent_at is not None and notice.sent_at <= notify_by


def notice_outcome(notice: SubjectNotice, notify_by: datetime, now: datetime) -> str:
    """told_in_time, told_late, undeliverable, overdue (pending past the deadline) or pending."""
    if notice.status == NoticeStatus.sent:
        return "told_in_time" if _told_in_time(notice, notify_by) else "told_late"
    if notice.status == NoticeStatus.failed:
        return "undeliverable"
    return "overdue" if now > notify_by else "pending"


def _affected(person: BreachPerson, notice: SubjectNotice, notify_by: datetime) -> AffectedRead:
    return AffectedRead(
        sub=person.sub,
        notice=notice.status.value,
        notified_at=notice.sent_at,
        in_time=None if notice.status != NoticeStatus.sent else _told_in_time(notice, notify_by),
        channel=notice.channel,
        language=notice.language,
        language_fallback=notice.language_fallback,
        reissued_at=person.reissued_at,
    )


breach = BreachService()

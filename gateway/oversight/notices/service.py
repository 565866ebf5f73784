"""SG-NOTIFY-1 at the edge: the audit log is the source of the notices. Every decision that released items of a
person's data to someone other than the person (a permit, a 2xx, fields returned) becomes a notice; a court
order's disclose-after (SG-ACCESS-2) holds its notice back until then. A writer reads the log past its cursor, in
the same transaction as it records the notices and moves the cursor, so no access is told twice or forgotten, and
the caller's request waits for none of it. Senders then hand each due notice to identity, which alone knows the
person's contact details and language.

Delivery is at least once: a notice is taken for a lease, sent, then marked; a process that dies between sending
and marking leaves it to be sent again once the lease ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.audit.events import AuditEvent, parse_timestamp
from gateway.audit.log import AuditLog
from gateway.oversight.notices.models import NoticeKind, NoticeStatus, SubjectNotice
from gateway.oversight.notices.repository import NoticeRepository
from services.common.clock import Clock
from services.common.http import RemoteProblem
from services.common.ids import new_id
from services.identity.client import IdentityClient, NoticeDelivery, NoticeRequest

log = structlog.get_logger(__name__)

CHUNK = 500
SEND_BATCH = 100
GATEWAY_ACTOR = "dpi-gateway"


@dataclass(frozen=True)
class NoticeRuntime:
    clock: Clock
    identity: IdentityClient
    assertion: Callable[[], str]  # the gateway's own assertion for identity (role gateway_internal)
    audit: AuditLog
    lease_seconds: float = 60.0


@dataclass
class NoticeRound:
    written: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    breach_notices: list[AuditEvent] = field(default_factory=list)


def releases_data(record: dict[str, Any]) -> bool:
    """Whether an audit record says items of a person's data left to someone other than the person."""
    status = record.get("status") or 0
    return (
        record.get("decision") == "permit"
        and 200 <= status < 300
        and bool(record.get("sub"))
        and record.get("actor_type") != "subject"
        and bool(record.get("fields_returned"))
        and not record.get("dry_run")
    )


def access_notice(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The notice row for a release the audit log recorded."""
    occurred = parse_timestamp(record["time"])
    disclose_after = parse_timestamp(record["disclose_after"]) if record.get("disclose_after") else None
    return {
        "id": new_id("ntc"),
        "kind": NoticeKind.data_access,
        "sub": record["sub"],
        "organisation": record["actor"],
        "items": ",".join(record["fields_returned"]),
        "purpose": record.get("purpose"),
        "occurred_at": occurred,
        "due_at": disclose_after or occurred,
        "deadline": None,
        "audit_event_id": record["event_id"],
        "incident_id": None,
        "status": NoticeStatus.pending,
        "attempts": 0,
        "created_at": now,
    }


class NoticeService:
    async def collect(self, session: AsyncSession, *, rt: NoticeRuntime) -> int:
        """Read the audit log past the cursor and record a notice for every release of a person's data."""
        repository = NoticeRepository.from_session(session)
        if await repository.read_position() >= await repository.audit_size():
            return 0  # nothing new: no write, no lock
        cursor = await repository.lock_position()
        written = 0
        now = rt.clock.now()
        while True:
            entries = await repository.audit_entries(cursor.next_index, CHUNK)
            for entry in entries:
                record = json.loads(entry.leaf)["record"]
                if releases_data(record) and await repository.add(access_notice(record, now)):
                    written += 1
            if entries:
                cursor.next_index = entries[-1].index + 1
            if len(entries) < CHUNK:
                break
        await session.flush()
        return written

    async def claim(self, session: AsyncSession, *, rt: NoticeRuntime) -> list[str]:
        now = rt.clock.now()
        until = now + timedelta(seconds=rt.lease_seconds)
        notices = await NoticeRepository.from_session(session).claim_due(now, until=until, limit=SEND_BATCH)
        return [notice.id for notice in notices]

    async def send(
        self, sessionmaker: async_sessionmaker[AsyncSession], notice_id: str, *, rt: NoticeRuntime, into: NoticeRound
    ) -> None:
        """Send one claimed notice through identity and record the outcome."""
        async with sessionmaker() as session:
            notice = await NoticeRepository.from_session(session).get(notice_id)
            assert notice is not None
            request = NoticeRequest(
                kind=notice.kind,
                organisation=notice.organisation,
                items=notice.items.split(","),
                purpose=notice.purpose,
                at=notice.occurred_at,
            )
            sub = notice.sub
        delivery: NoticeDelivery | None = None
        error: str | None = None
        permanent = False
        try:
            delivery = await rt.identity.send_notice(sub, request, assertion=rt.assertion())
        except RemoteProblem as problem:
            error, permanent = f"identity answered {problem.status}", 400 <= problem.status < 500
        except httpx.HTTPError as failure:
            error = f"identity did not answer ({type(failure).__name__})"
        async with sessionmaker() as session, session.begin():
            notice = await NoticeRepository.from_session(session).get(notice_id)
            assert notice is not None
            notice.claimed_until = None
            if delivery is not None:
                notice.status, notice.sent_at = NoticeStatus.sent, rt.clock.now()
                notice.channel, notice.language = delivery.channel, delivery.language
                notice.language_fallback = delivery.language_fallback
                into.sent += 1
                if notice.kind is NoticeKind.breach:
                    into.breach_notices.append(breach_notice_event(notice))
            else:
                notice.last_error = error
                if permanent:
                    notice.status = NoticeStatus.failed
                    into.failed += 1
                else:
                    into.retrying += 1
        if error is not None:
            log.warning("gateway.notice.not_delivered", notice_id=notice_id, reason=error)


def breach_notice_event(notice: SubjectNotice) -> AuditEvent:
    """The audit event of a breach notice that reached its person (SG-BREACH-1)."""
    return AuditEvent(
        decision="permit",
        actor=GATEWAY_ACTOR,
        actor_type="gateway",
        sub=notice.sub,
        action=f"NOTICE breach {notice.incident_id}",
        rule_ids=("SG-BREACH-1",),
        fields_returned=(),
        channel=notice.channel,
        status=201,
    )


notices = NoticeService()

"""A fetch through the exchange: consumer → exchange → provider, with every check made before the provider is called.

Round trips on the hot path: the directory (subsystem, service and access right joined, one prepared statement,
autocommitted), or only its token where it was read before and has not changed since (members/cache.py), with the
assertion's replay check in flight meanwhile (awaited before the provider is called),
the court order when the basis is one, the provider call, then the message log append
and (if asked) the stored payload. A fetch opens a session only for what needs one: the court order's read, and the
transaction that writes a stored payload with its log entries, or (SQLite) the entries alone; committed before the
answer leaves, rolled back if anything in it fails. On PostgreSQL a fetch that stores nothing opens none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from services.common.assertion import Caller
from services.common.http import DISCLOSE_AFTER_HEADER, FIELDS_RETURNED_HEADER
from services.common.ids import new_id
from services.exchange.deps import Runtime
from services.exchange.errors import ProviderRefused
from services.exchange.fetch.policy import Release, decide, deny
from services.exchange.fetch.schemas import (
    MESSAGE_ID_HEADER,
    REQUEST_HASH_HEADER,
    FetchRequest,
    FetchResult,
    StoredPayloadRef,
)
from services.exchange.members.errors import ServiceNotFound
from services.exchange.members.repository import OfferedService
from services.exchange.messagelog.service import body_hash, message_log
from services.exchange.messagelog.signing import canonical
from services.exchange.orders.models import CourtOrder
from services.exchange.registries.client import ProviderAnswer
from services.exchange.registries.credential import ExchangeRequest
from services.exchange.retention.models import StoredPayload
from services.exchange.retention.service import retention

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Fetched:
    content: bytes  # the exact bytes answered, as hashed into the message log
    headers: dict[str, str]


class FetchService:
    async def fetch(
        self,
        caller: Caller,
        body: FetchRequest,
        *,
        rt: Runtime,
        confirmed: Callable[[], Awaitable[None]] | None = None,
    ) -> Fetched:
        """The permitted record, logged on both chains. `confirmed`, where the caller's replay check is still in
        flight (`services.common.edge.FirstUse`), is awaited before the provider is called, the first effect."""
        directory = await rt.directory.fetch(caller.client_id, body.service)
        subsystem, service, right = directory.subsystem, directory.service, directory.right
        if subsystem is None:
            raise deny("SG-SEC-1", f"The client {caller.client_id} is not registered as a subsystem of any member.")
        if service is None or service.status != "active":
            raise ServiceNotFound(f"There is no active service {body.service}.")
        order = None
        if caller.legal_basis == "court_order" and caller.court_order_id:
            async with rt.sessions() as session:
                order = await session.get(CourtOrder, caller.court_order_id)
        now = rt.clock.now()
        release = decide(
            caller,
            requested=body.fields,
            subsystem=subsystem,
            service=service,
            right=right,
            order=order,
            approved_jurisdictions=rt.settings.approved_jurisdictions,
            now=now,
        )
        assert caller.subject_ref is not None and caller.purpose is not None  # decide() denies otherwise
        message_id = new_id("msg")
        request = ExchangeRequest(
            client=subsystem.id,
            service=service.id,
            purpose=caller.purpose,
            fields=release.fields,
            message_id=message_id,
        )
        if confirmed is not None:
            await confirmed()
        answer = await rt.providers.fetch(service.provider_path.replace("{subject}", caller.subject_ref), request)
        if answer.status != 200:
            problem = answer.json() if answer.content else {"title": "The provider refused the request"}
            raise ProviderRefused(answer.status, problem if isinstance(problem, dict) else {"detail": str(problem)})
        provided: dict[str, object] = dict(answer.json().get("record", {}))
        extra = sorted(set(provided) - set(release.fields))
        if extra:
            # The provider sent more than it was asked for: drop it, and count it (no values in the log).
            log.warning("exchange.minimisation_violation", service=service.id, extra_fields=len(extra))
        record = {name: provided[name] for name in release.fields if name in provided}
        returned = list(record)
        logged = _Logged(caller, body, message_id, subsystem.id, service, release, record, answer)
        if rt.log_appender is not None and not body.retain:
            content, request_hash, entries = logged.answer(None)
            await rt.log_appender.append(entries)  # committed before the answer leaves
        else:
            # The stored payload and the log entries in one transaction, committed before the answer leaves.
            async with rt.sessions.begin() as session:
                stored = None
                if body.retain:
                    stored = await retention.store(
                        session,
                        caller,
                        rt=rt,
                        consumer_subsystem_id=subsystem.id,
                        message_id=message_id,
                        service_id=service.id,
                        max_retention_days=service.max_retention_days,
                        fields=returned,
                        payload=record,
                    )
                content, request_hash, entries = logged.answer(stored)
                await message_log.append(session, entries, rt=rt)
        headers = {
            FIELDS_RETURNED_HEADER: ",".join(returned),
            MESSAGE_ID_HEADER: message_id,
            REQUEST_HASH_HEADER: request_hash,
            "content-type": "application/json",
        }
        if release.disclose_after is not None:
            headers[DISCLOSE_AFTER_HEADER] = release.disclose_after.isoformat()
        return Fetched(content, headers)


@dataclass(frozen=True)
class _Logged:
    """What a permitted fetch answers, and the entries it logs about it on each chain."""

    caller: Caller
    body: FetchRequest
    message_id: str
    client: str
    service: OfferedService
    release: Release
    record: dict[str, object]
    provided: ProviderAnswer

    def answer(self, stored: StoredPayload | None) -> tuple[bytes, str, dict[str, dict[str, Any]]]:
        """The answer's bytes, the request's hash, and the log entries (chain -> record)."""
        caller, service, release, record = self.caller, self.service, self.release, self.record
        assert caller.subject_ref is not None and caller.purpose is not None  # decide() denies otherwise
        returned = list(record)
        result = FetchResult(
            message_id=self.message_id,
            service=service.id,
            subject=caller.subject_ref,
            purpose=caller.purpose,
            legal_basis=str(caller.legal_basis),
            fields_returned=returned,
            withheld=release.withheld,
            record=record,
            disclose_after=release.disclose_after,
            stored_payload=None if stored is None else StoredPayloadRef(id=stored.id, retain_until=stored.retain_until),
        )
        content = result.model_dump_json().encode()
        request_hash = body_hash(
            canonical(
                {
                    "body": self.body.model_dump(mode="json"),
                    "context": caller.model_dump(
                        mode="json",
                        include={
                            "client_id",
                            "subject_ref",
                            "purpose",
                            "legal_basis",
                            "consent_id",
                            "court_order_id",
                            "decision_id",
                        },
                    ),
                }
            )
        )
        common = {"message_id": self.message_id, "client": self.client, "service": service.id}
        entries: dict[str, dict[str, Any]] = {
            "consumer": {
                **common,
                "client_id": caller.client_id,
                "subject": caller.subject_ref,
                "purpose": caller.purpose,
                "legal_basis": caller.legal_basis,
                "consent_id": caller.consent_id,
                "court_order_id": caller.court_order_id,
                "decision_id": caller.decision_id,
                "request_hash": request_hash,
                "response_hash": body_hash(content),
                "status": 200,
                "fields_returned": returned,
            },
            "provider": {
                **common,
                "provider": service.provider_subsystem_id,
                "request_hash": body_hash(canonical({"path": self.provided.request_path, "fields": release.fields})),
                "response_hash": body_hash(self.provided.content),
                "status": self.provided.status,
            },
        }
        return content, request_hash, entries


fetch = FetchService()

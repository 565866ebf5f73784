"""Consent artefacts: a requester asks, the subject grants or denies, and later revokes (as easily: SG-CONSENT-4),
or the artefact expires (SG-CONSENT-5). Every change is recorded with who, when and through which channel, gets a
signed receipt, and (for grants, revocations and expiries) an event through the outbox.

What an artefact must say and may not say is checked here, each refusal a 422 naming the rule and the field:
SG-CONSENT-2 (informed: every required field), SG-CONSENT-3 (specific: one purpose, enumerated items, no wildcard),
SG-CONSENT-6 (no optional use bundled with an essential one), SG-PURPOSE-1 (a registered, active purpose and only
its allowed items), SG-CONSENT-5 (validity within the purpose's maximum), SG-RETAIN-1 (data life within the
purpose's maximum) and SG-XBORDER-1 (a jurisdiction outside the approved ones needs a transfer basis).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.clock import instant_in_utc
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.consent.consents.errors import (
    ArtefactInvalid,
    AssistedWithoutOperator,
    ConsentNotFound,
    ConsentTransitionRefused,
)
from services.consent.consents.models import Consent, ConsentEvent, list_key
from services.consent.consents.repository import ConsentRepository
from services.consent.consents.schemas import (
    DPV_STATUS,
    REQUIRED_FIELDS,
    ConsentEventPayload,
    ConsentEventRead,
    ConsentPage,
    ConsentRead,
    ConsentRequestCreate,
    ConsentStatus,
)
from services.consent.deps import Runtime
from services.consent.purposes.models import Purpose
from services.consent.purposes.notices import notice
from services.consent.purposes.repository import PurposeRepository
from services.consent.purposes.schemas import PurposeStatus
from services.consent.receipts.service import receipt as receipt_service
from services.consent.vocabulary import Duration

log = structlog.get_logger(__name__)

DATA_ITEM = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
WILDCARDS = re.compile(r"[*?%]|^all$|^any$", re.IGNORECASE)
Action = Literal["grant", "deny", "revoke"]
# What each of the subject's actions does: from which status to which.
ACTIONS: dict[Action, tuple[ConsentStatus, ConsentStatus]] = {
    "grant": (ConsentStatus.requested, ConsentStatus.granted),
    "deny": (ConsentStatus.requested, ConsentStatus.denied),
    "revoke": (ConsentStatus.granted, ConsentStatus.revoked),
}
EVENT_SUBJECTS = {
    ConsentStatus.requested: "consent.requested",
    ConsentStatus.granted: "consent.granted",
    ConsentStatus.denied: "consent.denied",
    ConsentStatus.revoked: "consent.revoked",
    ConsentStatus.expired: "consent.expired",
}
SYSTEM_ACTOR = "consent-service"


class ConsentService:
    async def request(
        self,
        session: AsyncSession,
        caller: Caller,
        body: ConsentRequestCreate,
        *,
        requested: str,
        preferences: list[str],
        rt: Runtime,
    ) -> ConsentRead:
        """Record the requester's ask as a `requested` artefact, or refuse it naming the rule and the field."""
        now = rt.clock.now()
        purpose = await self._validated_purpose(session, body)
        items = self._validated_items(body, purpose)
        valid_from, expires_at = self._validated_window(body, purpose, now, rt)
        data_life = self._validated_data_life(body, purpose)
        jurisdiction = self._validated_jurisdiction(body, rt)
        language = body.language.value if body.language is not None else requested
        shown = notice(purpose.texts, language, [] if body.language is not None else preferences)
        consent = Consent(
            id=new_id("cns"),
            version=1,
            status=ConsentStatus.requested,
            requester=caller.client_id,
            subject=body.subject,
            purpose=purpose.code,
            notice={**shown, "dpv_purpose": purpose.dpv_purpose},
            legal_basis=purpose.legal_basis,
            essential=purpose.essential,
            items=items,
            items_key=list_key(items),
            valid_from=valid_from,
            expires_at=expires_at,
            data_life_unit=data_life.unit,
            data_life_value=data_life.value,
            data_life_seconds=int(data_life.as_timedelta().total_seconds()),
            frequency_unit=body.frequency.unit if body.frequency else None,
            frequency_value=body.frequency.value if body.frequency else None,
            window_key=None,
            window_uses=0,
            use_limit=body.use_count,
            uses=0,
            jurisdiction=jurisdiction,
            jurisdiction_key=list_key(jurisdiction),
            transfer_basis=body.transfer_basis,
            revoke_url=body.revoke_url,
            grievance_url=body.grievance_url,
            data_life_until=None,
            created_at=now,
            updated_at=now,
        )
        session.add(consent)
        await session.flush()
        history = await self._record(session, consent, None, caller, actor_type="requester", rt=rt)
        log.info("consent.requested", consent_id=consent.id, purpose=consent.purpose)
        return self.view(consent, history)

    async def act(
        self, session: AsyncSession, caller: Caller, consent_id: str, action: Action, *, rt: Runtime
    ) -> ConsentRead:
        """The subject grants, denies or revokes one of their artefacts: one route shape and one step for each."""
        if caller.channel == "assisted" and not caller.assisted_by:
            raise AssistedWithoutOperator("On the assisted channel the gateway names the operator (assisted_by).")
        consent = await self._mine(session, caller, consent_id, for_update=True)
        source, target = ACTIONS[action]
        now = rt.clock.now()
        current = ConsentStatus(consent.status)
        if current is not source:
            raise ConsentTransitionRefused(
                f"Consent {consent.id} is {current}; only a {source} consent can be {target}.",
                consent_status=current,
            )
        if consent.expires_at <= now:
            raise ConsentTransitionRefused(
                f"Consent {consent.id} reached its end of validity at {consent.expires_at.isoformat()}.",
                consent_status=ConsentStatus.expired,
            )
        if target is ConsentStatus.granted:
            purpose = await PurposeRepository.from_session(session).get(consent.purpose)
            if purpose is None or purpose.status != PurposeStatus.active:
                raise ArtefactInvalid("SG-PURPOSE-1", "purpose", f"purpose {consent.purpose} is not active")
            consent.data_life_until = consent.expires_at + timedelta(seconds=consent.data_life_seconds)
        elif target is ConsentStatus.revoked:
            grace_end = now + timedelta(seconds=rt.settings.revocation_grace_seconds)
            consent.data_life_until = min(consent.data_life_until or grace_end, grace_end)
        self._move(consent, target, now)
        history = await self._record(session, consent, current, caller, actor_type="subject", rt=rt)
        log.info(f"consent.{target}", consent_id=consent.id, channel=caller.channel)
        return self.view(consent, history)

    async def expire_due(self, session: AsyncSession, *, rt: Runtime, limit: int = 500) -> list[str]:
        """Mark artefacts past their end of validity `expired` (granted ones announce it); their ids."""
        now = rt.clock.now()
        due = await ConsentRepository.from_session(session).due_to_expire(now, limit=limit)
        system = Caller(client_id=SYSTEM_ACTOR, channel="internal", assertion_id="", expires_at=now)
        for consent in due:
            previous = ConsentStatus(consent.status)
            if previous is ConsentStatus.requested:
                consent.data_life_until = None
            self._move(consent, ConsentStatus.expired, now)
            await self._record(session, consent, previous, system, actor_type="system", rt=rt, announce=previous)
            log.info("consent.expired", consent_id=consent.id)
        return [consent.id for consent in due]

    async def get_mine(self, session: AsyncSession, caller: Caller, consent_id: str) -> ConsentRead:
        consent = await self._mine(session, caller, consent_id)
        return self.view(consent, await ConsentRepository.from_session(session).history(consent.id))

    async def get_as_requester(self, session: AsyncSession, caller: Caller, consent_id: str) -> ConsentRead:
        consent = await ConsentRepository.from_session(session).get(consent_id)
        if consent is None or consent.requester != caller.client_id:
            raise ConsentNotFound(f"You requested no consent {consent_id}.")
        return self.view(consent, await ConsentRepository.from_session(session).history(consent.id))

    async def list_mine(
        self, session: AsyncSession, caller: Caller, *, status: ConsentStatus | None, paging: PageRequest
    ) -> ConsentPage:
        repository = ConsentRepository.from_session(session)
        consents = await repository.page_for_subject(
            caller.subject_ref or "", status=status, before=paging.after, limit=paging.limit + 1
        )
        histories = await repository.histories([consent.id for consent in consents[: paging.limit]])
        return ConsentPage.of(
            consents, paging, position=lambda consent: consent.id, item=lambda c: self.view(c, histories[c.id])
        )

    # -- validation -------------------------------------------------------------------------------------------------

    async def _validated_purpose(self, session: AsyncSession, body: ConsentRequestCreate) -> Purpose:
        for field in REQUIRED_FIELDS:
            value = getattr(body, field)
            if value is None or (isinstance(value, list) and not value):
                raise ArtefactInvalid("SG-CONSENT-2", field, "an informed consent states this; it is missing")
        repository = PurposeRepository.from_session(session)
        assert body.purpose is not None, "checked above: the purpose is present"
        codes: list[str] = body.purpose if isinstance(body.purpose, list) else [body.purpose]
        if any(WILDCARDS.search(code) for code in codes):
            raise ArtefactInvalid("SG-CONSENT-3", "purpose", "a consent names one purpose, never a wildcard")
        if len(set(codes)) > 1:
            found = [p for code in dict.fromkeys(codes) if (p := await repository.get(code)) is not None]
            if len({p.essential for p in found}) > 1:
                raise ArtefactInvalid(
                    "SG-CONSENT-6", "purpose", "an optional use cannot be bundled with an essential service"
                )
            raise ArtefactInvalid("SG-CONSENT-3", "purpose", "one purpose per consent; ask for each separately")
        purpose = await repository.get(codes[0])
        if purpose is None or purpose.status != PurposeStatus.active:
            state = "not registered" if purpose is None else purpose.status
            raise ArtefactInvalid("SG-PURPOSE-1", "purpose", f"purpose {codes[0]} is {state}, not active")
        return purpose

    @staticmethod
    def _validated_items(body: ConsentRequestCreate, purpose: Purpose) -> list[str]:
        items = list(body.data_items or [])
        if any(WILDCARDS.search(item) or not DATA_ITEM.match(item) for item in items):
            raise ArtefactInvalid("SG-CONSENT-3", "data_items", "each data item is named; no wildcard")
        if len(set(items)) != len(items):
            raise ArtefactInvalid("SG-CONSENT-3", "data_items", "each data item is listed once")
        if outside := [item for item in items if item not in purpose.allowed_items]:
            raise ArtefactInvalid(
                "SG-PURPOSE-1",
                "data_items",
                f"not allowed for purpose {purpose.code}: {', '.join(outside)}",
            )
        return items

    @staticmethod
    def _validated_window(
        body: ConsentRequestCreate, purpose: Purpose, now: datetime, rt: Runtime
    ) -> tuple[datetime, datetime]:
        assert body.expires_at is not None, "checked: required"
        window: dict[str, datetime] = {"valid_from": now}
        for field in ("valid_from", "expires_at"):
            value = getattr(body, field)
            if value is None:
                continue
            if value.tzinfo is None:
                raise ArtefactInvalid("SG-CONSENT-5", field, "a time with its UTC offset")
            try:
                window[field] = instant_in_utc(value)
            except ValueError as error:  # e.g. 9999-12-31T23:00:00-05:00, which is year 10000 in UTC
                raise ArtefactInvalid("SG-CONSENT-5", field, str(error)) from None
        skew = timedelta(seconds=rt.settings.decision_clock_skew_seconds)
        valid_from, expires_at = window["valid_from"], window["expires_at"]
        if valid_from < now - skew:
            raise ArtefactInvalid("SG-CONSENT-5", "valid_from", "a consent cannot start in the past")
        if expires_at <= valid_from:
            raise ArtefactInvalid("SG-CONSENT-5", "expires_at", "the end of validity must follow its start")
        if expires_at - valid_from > timedelta(days=purpose.max_validity_days):
            raise ArtefactInvalid(
                "SG-CONSENT-5",
                "expires_at",
                f"purpose {purpose.code} allows consents of at most {purpose.max_validity_days} days",
            )
        return valid_from, expires_at

    @staticmethod
    def _validated_data_life(body: ConsentRequestCreate, purpose: Purpose) -> Duration:
        assert body.data_life is not None, "checked: required"
        if body.data_life.as_timedelta() > timedelta(days=purpose.max_data_life_days):
            raise ArtefactInvalid(
                "SG-RETAIN-1",
                "data_life",
                f"purpose {purpose.code} allows keeping data at most {purpose.max_data_life_days} days",
            )
        return body.data_life

    @staticmethod
    def _validated_jurisdiction(body: ConsentRequestCreate, rt: Runtime) -> list[str]:
        jurisdiction = list(dict.fromkeys(body.jurisdiction or []))
        outside = [code for code in jurisdiction if code not in rt.settings.approved_jurisdictions]
        if outside and not body.transfer_basis:
            raise ArtefactInvalid(
                "SG-XBORDER-1",
                "transfer_basis",
                f"processing in {', '.join(outside)} (not approved jurisdictions) needs a lawful transfer basis",
            )
        return jurisdiction

    # -- lifecycle --------------------------------------------------------------------------------------------------

    async def _mine(
        self, session: AsyncSession, caller: Caller, consent_id: str, *, for_update: bool = False
    ) -> Consent:
        consent = await ConsentRepository.from_session(session).get(consent_id, for_update=for_update)
        if consent is None or consent.subject != caller.subject_ref:
            raise ConsentNotFound(f"You have no consent {consent_id}.")
        return consent

    @staticmethod
    def _move(consent: Consent, status: ConsentStatus, now: datetime) -> None:
        consent.status, consent.version, consent.updated_at = status, consent.version + 1, now

    async def _record(
        self,
        session: AsyncSession,
        consent: Consent,
        previous: ConsentStatus | None,
        caller: Caller,
        *,
        actor_type: Literal["requester", "subject", "system"],
        rt: Runtime,
        announce: ConsentStatus | None = None,
    ) -> list[ConsentEvent]:
        """The change's history row, its signed receipt and its outbox event, in the change's transaction."""
        repository = ConsentRepository.from_session(session)
        earlier = list(await repository.history(consent.id)) if consent.version > 1 else []
        receipt_id = new_id("rct")
        event = ConsentEvent(
            id=new_id("cev"),
            consent_id=consent.id,
            seq=consent.version,
            status=consent.status,
            previous_status=previous,
            at=consent.updated_at,
            actor=caller.subject_ref if actor_type == "subject" and caller.subject_ref else caller.client_id,
            actor_type=actor_type,
            channel=caller.channel,
            assisted_by=caller.assisted_by,
            subject_confirmed=actor_type == "subject",
            receipt_id=receipt_id,
        )
        session.add(event)
        history = [*earlier, event]
        await receipt_service.issue(session, consent, history, receipt_id=receipt_id, rt=rt)
        await session.flush()
        status = ConsentStatus(consent.status)
        if status is not ConsentStatus.expired or announce is ConsentStatus.granted:
            await rt.outbox.add(session, EVENT_SUBJECTS[status], self.event_payload(consent))
        return history

    @staticmethod
    def event_payload(consent: Consent) -> dict[str, Any]:
        payload = ConsentEventPayload(
            consent_id=consent.id,
            subject=consent.subject,
            requester=consent.requester,
            purpose=consent.purpose,
            items=list(consent.items),
            data_life_until=consent.data_life_until or consent.updated_at,
            at=consent.updated_at,
        )
        return payload.model_dump(mode="json")

    @staticmethod
    def view(consent: Consent, history: Sequence[ConsentEvent]) -> ConsentRead:
        return ConsentRead.model_validate(
            {
                "id": consent.id, "version": consent.version, "status": consent.status,
                "requester": consent.requester, "subject": consent.subject, "purpose": consent.purpose,
                "notice": consent.notice, "legal_basis": consent.legal_basis, "essential": consent.essential,
                "data_items": consent.items, "valid_from": consent.valid_from, "expires_at": consent.expires_at,
                "data_life": {"unit": consent.data_life_unit, "value": consent.data_life_value},
                "frequency": (
                    {"unit": consent.frequency_unit, "value": consent.frequency_value}
                    if consent.frequency_unit else None
                ),
                "use_count": consent.use_limit, "uses": consent.uses, "last_used_at": consent.last_used_at,
                "jurisdiction": consent.jurisdiction, "transfer_basis": consent.transfer_basis,
                "revoke_url": consent.revoke_url, "grievance_url": consent.grievance_url,
                "data_life_until": consent.data_life_until, "created_at": consent.created_at,
                "updated_at": consent.updated_at,
                "history": [
                    ConsentEventRead(
                        seq=e.seq, status=ConsentStatus(e.status), dpv_status=DPV_STATUS[ConsentStatus(e.status)],
                        previous_status=ConsentStatus(e.previous_status) if e.previous_status else None, at=e.at,
                        actor=e.actor, actor_type=e.actor_type, channel=e.channel,
                        assisted_by=e.assisted_by, subject_confirmed=e.subject_confirmed, receipt_id=e.receipt_id,
                    )
                    for e in history
                ],
            }
        )  # fmt: skip


consent = ConsentService()

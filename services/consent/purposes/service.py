"""The purpose registry: purposes are drafts until oversight approves their impact assessments (SG-HRIA-1), never
carry protected attributes without the law that requires them (SG-NONDISC-1), and are public (SG-PURPOSE-1)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.consent.deps import Runtime
from services.consent.purposes.errors import PurposeExists, PurposeInvalid, PurposeNotFound, PurposeTransitionRefused
from services.consent.purposes.models import Purpose, PurposeChange
from services.consent.purposes.notices import notice
from services.consent.purposes.repository import PurposeRepository
from services.consent.purposes.schemas import (
    PROTECTED_ATTRIBUTES,
    PurposeApproval,
    PurposeCreate,
    PurposeList,
    PurposeRead,
    PurposeStatus,
    PurposeStatusChange,
)
from services.consent.vocabulary import Language

log = structlog.get_logger(__name__)

# Status changes oversight may make with POST /status; draft → active goes through the approval only.
TRANSITIONS = {
    PurposeStatus.draft: {PurposeStatus.retired},
    PurposeStatus.active: {PurposeStatus.suspended, PurposeStatus.retired},
    PurposeStatus.suspended: {PurposeStatus.active, PurposeStatus.retired},
    PurposeStatus.retired: set(),
}


class PurposeService:
    async def create(self, session: AsyncSession, caller: Caller, body: PurposeCreate, *, rt: Runtime) -> Purpose:
        """Record a draft purpose; it serves nothing until oversight approves it."""
        for field in ("dpia_ref", "hria_ref"):
            if getattr(body, field) is None:
                raise PurposeInvalid("SG-HRIA-1", field, "a purpose needs its impact assessment reference")
        if len(set(body.allowed_items)) != len(body.allowed_items):
            raise PurposeInvalid("SG-PURPOSE-1", "allowed_items", "each data item is listed once")
        justified = {entry.item for entry in body.legally_required}
        if stray := sorted(justified - set(body.allowed_items)):
            raise PurposeInvalid("SG-NONDISC-1", "legally_required", f"not among the allowed items: {', '.join(stray)}")
        if unjustified := sorted((PROTECTED_ATTRIBUTES & set(body.allowed_items)) - justified):
            raise PurposeInvalid(
                "SG-NONDISC-1",
                "allowed_items",
                f"protected attributes need the legal reference that requires them: {', '.join(unjustified)}",
            )
        repository = PurposeRepository.from_session(session)
        if await repository.get(body.code) is not None:
            raise PurposeExists(f"Purpose {body.code} is registered already.")
        now = rt.clock.now()
        purpose = Purpose(
            code=body.code,
            version=1,
            status=PurposeStatus.draft,
            texts={language.value: text.model_dump() for language, text in body.texts.items()},
            dpv_purpose=body.dpv_purpose,
            legal_basis=body.legal_basis,
            essential=body.essential,
            allowed_items=list(body.allowed_items),
            legally_required=[entry.model_dump() for entry in body.legally_required],
            max_validity_days=body.max_validity_days,
            max_data_life_days=body.max_data_life_days,
            ekyc_allowed=body.ekyc_allowed,
            statutes=[statute.model_dump() for statute in body.statutes],
            dpia_ref=body.dpia_ref,
            hria_ref=body.hria_ref,
            created_by=caller.client_id,
            created_at=now,
            updated_at=now,
        )
        session.add(purpose)
        await self._changed(session, purpose, caller, reason=None, rt=rt)
        return purpose

    async def approve(
        self, session: AsyncSession, caller: Caller, code: str, body: PurposeApproval, *, rt: Runtime
    ) -> Purpose:
        """Oversight approves the assessments of a draft: it becomes active (SG-HRIA-1)."""
        purpose = await self.get(session, code, for_update=True)
        if purpose.status != PurposeStatus.draft:
            raise PurposeTransitionRefused(f"Purpose {code} is {purpose.status}; only a draft is approved.")
        for field in ("dpia_ref", "hria_ref"):
            if getattr(body, field) != getattr(purpose, field):
                raise PurposeInvalid("SG-HRIA-1", field, "the approval is for another assessment than the purpose's")
        purpose.approved_by, purpose.approved_at = caller.client_id, rt.clock.now()
        await self._move(session, purpose, PurposeStatus.active, caller, reason=body.note, rt=rt)
        return purpose

    async def change_status(
        self, session: AsyncSession, caller: Caller, code: str, body: PurposeStatusChange, *, rt: Runtime
    ) -> Purpose:
        purpose = await self.get(session, code, for_update=True)
        current = PurposeStatus(purpose.status)
        if current is PurposeStatus.draft and body.status is PurposeStatus.active:
            raise PurposeInvalid("SG-HRIA-1", "status", "a draft becomes active only through an oversight approval")
        if body.status not in TRANSITIONS[current]:
            raise PurposeTransitionRefused(f"Purpose {code} is {current}; it cannot become {body.status}.")
        await self._move(session, purpose, body.status, caller, reason=body.reason, rt=rt)
        return purpose

    async def get(self, session: AsyncSession, code: str, *, for_update: bool = False) -> Purpose:
        purpose = await PurposeRepository.from_session(session).get(code, for_update=for_update)
        if purpose is None:
            raise PurposeNotFound(f"No purpose {code} in the registry.")
        return purpose

    async def read(self, session: AsyncSession, code: str, *, requested: str, preferences: list[str]) -> PurposeRead:
        return self.view(await self.get(session, code), requested=requested, preferences=preferences)

    async def registry(self, session: AsyncSession, *, requested: str, preferences: list[str]) -> PurposeList:
        purposes = await PurposeRepository.from_session(session).list_all()
        return PurposeList(items=[self.view(p, requested=requested, preferences=preferences) for p in purposes])

    @staticmethod
    def view(purpose: Purpose, *, requested: str, preferences: list[str]) -> PurposeRead:
        values: dict[str, Any] = {
            column: getattr(purpose, column)
            for column in (
                "code", "version", "status", "texts", "dpv_purpose", "legal_basis", "essential", "allowed_items",
                "legally_required", "max_validity_days", "max_data_life_days", "ekyc_allowed", "statutes", "dpia_ref",
                "hria_ref", "approved_by", "approved_at", "created_at", "updated_at",
            )
        }  # fmt: skip
        values["notice"] = notice(purpose.texts, requested, preferences)
        values["missing_languages"] = [language for language in Language if language.value not in purpose.texts]
        return PurposeRead.model_validate(values)

    async def _move(
        self,
        session: AsyncSession,
        purpose: Purpose,
        status: PurposeStatus,
        caller: Caller,
        *,
        reason: str | None,
        rt: Runtime,
    ) -> None:
        purpose.status, purpose.version, purpose.updated_at = status, purpose.version + 1, rt.clock.now()
        await self._changed(session, purpose, caller, reason=reason, rt=rt)

    @staticmethod
    async def _changed(
        session: AsyncSession, purpose: Purpose, caller: Caller, *, reason: str | None, rt: Runtime
    ) -> None:
        now = rt.clock.now()
        session.add(
            PurposeChange(
                id=new_id("pch"),
                code=purpose.code,
                version=purpose.version,
                status=purpose.status,
                actor=caller.client_id,
                reason=reason,
                at=now,
            )
        )
        await session.flush()
        payload = {"code": purpose.code, "status": purpose.status, "version": purpose.version, "at": now.isoformat()}
        await rt.outbox.add(session, "consent.purpose.changed", payload)
        log.info("consent.purpose.changed", code=purpose.code, status=purpose.status, version=purpose.version)


purpose = PurposeService()

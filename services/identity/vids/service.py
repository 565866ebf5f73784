"""A subject's own VIDs: create, list, revoke. Resolution (VID to `sub`) lives in the tokens domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.identity.deps import Runtime
from services.identity.persons.models import Person, PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.schemas import EnrolmentResult
from services.identity.persons.service import person as person_service
from services.identity.persons.uin import generate_vid
from services.identity.vids.errors import VidIssuanceFailed, VidLimitReached, VidNotFound, VidValidityTooLong
from services.identity.vids.models import Vid, VidStatus
from services.identity.vids.repository import VidRepository
from services.identity.vids.schemas import VidCreate, VidRead

log = structlog.get_logger(__name__)

VID_ATTEMPTS = 20


def vid_context(vid_id: str) -> str:
    return f"vid:{vid_id}"


class VidService:
    async def create(self, session: AsyncSession, caller: Caller, body: VidCreate, *, rt: Runtime) -> VidRead:
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        return await self._issue(session, person, body.valid_for_days, rt=rt)

    async def for_enrolment(self, session: AsyncSession, result: EnrolmentResult, *, rt: Runtime) -> EnrolmentResult:
        """A first VID for a person just enrolled (the registrar asked for one for the enrolment slip): what they
        sign in and are named with instead of their UIN. A held enrolment (no UIN yet) gets none."""
        if result.status is not PersonStatus.active:
            return result
        person = await PersonRepository.from_session(session).get(result.person_id)
        assert person is not None  # enrolled in this transaction
        issued = await self._issue(session, person, None, rt=rt)
        return result.model_copy(update={"vid": issued.vid})

    async def _issue(
        self, session: AsyncSession, person: Person, valid_for_days: int | None, *, rt: Runtime
    ) -> VidRead:
        repository = VidRepository.from_session(session)
        now = rt.clock.now()
        if valid_for_days is not None and valid_for_days > rt.settings.vid_max_validity_days:
            raise VidValidityTooLong(f"A VID may be valid for at most {rt.settings.vid_max_validity_days} days.")
        # Without the lock, concurrent requests each counted below the limit and each issued one (count, then insert).
        await PersonRepository.from_session(session).lock(person.id)
        if await repository.count_active(person.id, now) >= rt.settings.vid_max_active:
            raise VidLimitReached(f"At most {rt.settings.vid_max_active} VIDs may be active at once; revoke one first.")
        vid, number = await self.issue(session, person, valid_for_days=valid_for_days, rt=rt)
        return self._read(vid, number, rt=rt)

    async def issue(
        self, session: AsyncSession, person: Person, *, valid_for_days: int | None, rt: Runtime
    ) -> tuple[Vid, str]:
        """A new active VID for the person (the caller has locked the person and checked the limit)."""
        repository = VidRepository.from_session(session)
        now = rt.clock.now()
        for _ in range(VID_ATTEMPTS):
            number = generate_vid()
            vid_index = rt.keyring.blind.index(number, kind="vid")
            if not await repository.index_taken(vid_index):
                break
        else:
            raise VidIssuanceFailed("Could not find an unused VID; retry the request.")
        vid_id = new_id("vid")
        key_id, ciphertext = rt.keyring.cipher.encrypt(number, context=vid_context(vid_id))
        vid = Vid(
            id=vid_id,
            person_id=person.id,
            vid_index=vid_index,
            key_id=key_id,
            ciphertext=ciphertext,
            status=VidStatus.active,
            created_at=now,
            expires_at=now + timedelta(days=valid_for_days) if valid_for_days else None,
        )
        session.add(vid)
        await session.flush()
        await rt.outbox.add(session, "identity.vid.created", {"vid_id": vid.id, "person_id": person.id})
        log.info("identity.vid.created", vid_id=vid.id, person_id=person.id)
        return vid, number

    async def list(self, session: AsyncSession, caller: Caller, *, rt: Runtime) -> Sequence[VidRead]:
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        vids = await VidRepository.from_session(session).list_for_person(person.id)
        return [self._read(vid, self._number(vid, rt=rt), rt=rt) for vid in vids]

    async def revoke(self, session: AsyncSession, caller: Caller, vid_id: str, *, rt: Runtime) -> VidRead:
        """Revoke one of the caller's VIDs; it stops resolving at once. Revoking twice is harmless."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        vid = await VidRepository.from_session(session).get_for_person(vid_id, person.id)
        if vid is None:
            raise VidNotFound(f"You have no VID {vid_id}.")
        await self.withdraw(session, vid, rt=rt)
        return self._read(vid, self._number(vid, rt=rt), rt=rt)

    async def withdraw(self, session: AsyncSession, vid: Vid, *, rt: Runtime) -> bool:
        """Revoke the VID unless it already is; True if this call revoked it."""
        if vid.status == VidStatus.revoked:
            return False
        vid.status = VidStatus.revoked
        vid.revoked_at = rt.clock.now()
        await rt.outbox.add(session, "identity.vid.revoked", {"vid_id": vid.id, "person_id": vid.person_id})
        log.info("identity.vid.revoked", vid_id=vid.id, person_id=vid.person_id)
        return True

    @staticmethod
    def _number(vid: Vid, *, rt: Runtime) -> str:
        return rt.keyring.cipher.decrypt(vid.key_id, vid.ciphertext, context=vid_context(vid.id))

    @staticmethod
    def _read(vid: Vid, number: str, *, rt: Runtime) -> VidRead:
        status = VidStatus(vid.status)
        if status is VidStatus.active and vid.expires_at is not None and vid.expires_at <= rt.clock.now():
            status = VidStatus.expired
        return VidRead(
            id=vid.id,
            vid=number,
            status=status,
            created_at=vid.created_at,
            expires_at=vid.expires_at,
            revoked_at=vid.revoked_at,
        )


vid = VidService()

"""After a breach (SG-BREACH-1): every VID and offline credential a person holds may have been exposed, so the
gateway, on oversight's word, asks identity to withdraw them all and issue the same number of fresh VIDs."""

from __future__ import annotations

import math

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.credentials.repository import OfflineCredentialRepository
from services.identity.deps import Runtime
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service
from services.identity.vids.models import VidStatus
from services.identity.vids.repository import VidRepository
from services.identity.vids.schemas import ReissueResult
from services.identity.vids.service import vid as vid_service

log = structlog.get_logger(__name__)


async def reissue(session: AsyncSession, sub: str, *, by: str, rt: Runtime) -> ReissueResult:
    """Revoke the person's active VIDs and valid offline credentials; issue as many new VIDs (at least one), each
    valid for what was left of the one it replaces."""
    person = await person_service.get_active_by_sub(session, sub)
    await PersonRepository.from_session(session).lock(person.id)
    now = rt.clock.now()
    validities: list[int | None] = []
    for vid in await VidRepository.from_session(session).list_for_person(person.id):
        live = vid.status == VidStatus.active and (vid.expires_at is None or vid.expires_at > now)
        if live and await vid_service.withdraw(session, vid, rt=rt):
            left = None if vid.expires_at is None else (vid.expires_at - now).total_seconds() / 86_400
            validities.append(None if left is None else max(1, math.ceil(left)))
    credentials = OfflineCredentialRepository.from_session(session)
    revoked_credentials = 0
    for credential in await credentials.of_person(person.id):
        if credential.expires_at > now and await credentials.revoke(credential.id, at=now, by=by):
            revoked_credentials += 1
            await rt.outbox.add(
                session,
                "identity.offline_credential.revoked",
                {"person_id": person.id, "sub": person.sub, "credential_id": credential.id},
            )
    for valid_for_days in validities or [None]:
        await vid_service.issue(session, person, valid_for_days=valid_for_days, rt=rt)
    log.info("identity.reissued", person_id=person.id, vids=len(validities), credentials=revoked_credentials)
    return ReissueResult(
        vids_revoked=len(validities),
        vids_issued=max(len(validities), 1),
        offline_credentials_revoked=revoked_credentials,
    )

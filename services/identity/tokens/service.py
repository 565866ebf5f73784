"""Pairwise tokens and subject resolution: how the gateway moves between what callers present and `sub`."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.identity.deps import Runtime
from services.identity.persons.models import PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service
from services.identity.tokens.errors import ReferenceNotResolved, VidExpired, VidRevoked
from services.identity.tokens.models import PairwiseToken
from services.identity.tokens.repository import TokenRepository
from services.identity.tokens.schemas import (
    PairwiseTokenRead,
    PairwiseTokenRequest,
    ReferenceType,
    SubjectReference,
    SubjectResolution,
)
from services.identity.vids.models import VidStatus
from services.identity.vids.repository import VidRepository

log = structlog.get_logger(__name__)


class TokenService:
    async def pairwise_token(
        self, session: AsyncSession, caller: Caller, sub: str, body: PairwiseTokenRequest, *, rt: Runtime
    ) -> PairwiseTokenRead:
        """The relying party's token for this person: HMAC of the UIN under that party's own derived key."""
        person = await person_service.get_active_by_sub(session, sub)
        uin = await person_service.uin_of(session, person, rt=rt)
        token = rt.keyring.pairwise_token(body.relying_party_id, uin)
        token_index = rt.keyring.blind.index(token, kind="pairwise")
        if await TokenRepository.from_session(session).get(body.relying_party_id, token_index) is None:
            try:
                async with session.begin_nested():
                    session.add(
                        PairwiseToken(
                            relying_party_id=body.relying_party_id,
                            token_index=token_index,
                            person_id=person.id,
                            created_at=rt.clock.now(),
                        )
                    )
            except IntegrityError:
                pass  # a concurrent request registered the same token: the row we wanted exists
            else:
                await rt.outbox.add(
                    session,
                    "identity.pairwise_token.registered",
                    {"person_id": person.id, "relying_party_id": body.relying_party_id},
                )
        return PairwiseTokenRead(relying_party_id=body.relying_party_id, token=token)

    async def resolve(
        self, session: AsyncSession, caller: Caller, body: SubjectReference, *, rt: Runtime
    ) -> SubjectResolution:
        """The `sub` behind a VID or a relying party's pairwise token; 401 if it identifies no one (any more)."""
        if body.type is ReferenceType.vid:
            person_id = await self._person_of_vid(session, body.value, rt=rt)
        else:
            assert body.relying_party_id is not None  # the schema requires it for pairwise tokens
            token_index = rt.keyring.blind.index(body.value, kind="pairwise")
            row = await TokenRepository.from_session(session).get(body.relying_party_id, token_index)
            if row is None:
                raise ReferenceNotResolved("This token is not one issued to this relying party.")
            person_id = row.person_id
        person = await PersonRepository.from_session(session).get(person_id)
        if person is None or person.status != PersonStatus.active:
            raise ReferenceNotResolved("The reference belongs to no enrolled person.")
        return SubjectResolution(sub=person.sub, reference_type=body.type)

    async def _person_of_vid(self, session: AsyncSession, value: str, *, rt: Runtime) -> str:
        vid = await VidRepository.from_session(session).get_by_index(rt.keyring.blind.index(value, kind="vid"))
        if vid is None:
            raise ReferenceNotResolved("No such VID.")
        if vid.status == VidStatus.revoked:
            raise VidRevoked("This VID was revoked by its holder; ask them for a current one.", vid_id=vid.id)
        if vid.expires_at is not None and vid.expires_at <= rt.clock.now():
            raise VidExpired("This VID has expired; ask its holder for a current one.", vid_id=vid.id)
        return vid.person_id


token = TokenService()

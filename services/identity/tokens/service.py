"""Pairwise tokens and subject resolution: how the gateway moves between what callers present and `sub`."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.identity.deps import Runtime
from services.identity.persons.errors import SubjectNotFound
from services.identity.persons.models import Person, PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import UIN_ATTRIBUTE
from services.identity.persons.service import person as person_service
from services.identity.tokens.errors import ReferenceNotResolved, VidExpired, VidRevoked
from services.identity.tokens.repository import TokenRepository
from services.identity.tokens.schemas import (
    PairwiseTokenRead,
    PairwiseTokenRequest,
    ReferenceType,
    SubjectReference,
    SubjectResolution,
)
from services.identity.vids.models import VidStatus

log = structlog.get_logger(__name__)


class TokenService:
    async def pairwise_token(
        self, session: AsyncSession, caller: Caller, sub: str, body: PairwiseTokenRequest, *, rt: Runtime
    ) -> PairwiseTokenRead:
        """The relying party's token for this person: HMAC of the UIN under that party's own derived key."""
        person = await person_service.get_active_by_sub(session, sub)
        token = await self.token_for(session, person, body.relying_party_id, rt=rt)
        return PairwiseTokenRead(relying_party_id=body.relying_party_id, token=token)

    async def token_for(self, session: AsyncSession, person: Person, relying_party_id: str, *, rt: Runtime) -> str:
        """`relying_party_id`'s token for an already loaded person, registered so that it resolves later.

        One select reads the UIN and whether the party's token is registered; only a first token is inserted (with
        ON CONFLICT DO NOTHING, so a concurrent registration of the same token is no error) and announced.
        """
        if person.status != PersonStatus.active:
            raise SubjectNotFound("No enrolled person has this subject reference.")
        repository = TokenRepository.from_session(session)
        row = await repository.uin_and_registration(person.id, relying_party_id, UIN_ATTRIBUTE)
        if row is None:
            raise SubjectNotFound("This person has no UIN yet.")
        uin = person_service.decrypt_uin(person.id, row.key_id, row.ciphertext, rt=rt)
        token = rt.keyring.pairwise_token(relying_party_id, uin)
        if not row.registered:
            token_index = rt.keyring.blind.index(token, kind="pairwise")
            if await repository.register(relying_party_id, token_index, person.id, rt.clock.now()):
                await rt.outbox.add(
                    session,
                    "identity.pairwise_token.registered",
                    {"person_id": person.id, "relying_party_id": relying_party_id},
                )
        return token

    async def resolve(
        self, session: AsyncSession, caller: Caller, body: SubjectReference, *, rt: Runtime
    ) -> SubjectResolution:
        """The `sub` behind a VID or a relying party's pairwise token; 401 if it identifies no one (any more)."""
        person = await self.resolve_person(session, body, rt=rt)
        return SubjectResolution(sub=person.sub, reference_type=body.type)

    async def resolve_person(self, session: AsyncSession, body: SubjectReference, *, rt: Runtime) -> Person:
        """The active person behind a VID or a relying party's pairwise token; 401 if there is none (any more)."""
        person: Person | None
        if body.type is ReferenceType.vid:
            person = await self._person_of_vid(session, body.value, rt=rt)
        else:
            assert body.relying_party_id is not None  # the schema requires it for pairwise tokens
            token_index = rt.keyring.blind.index(body.value, kind="pairwise")
            row = await TokenRepository.from_session(session).get(body.relying_party_id, token_index)
            if row is None:
                raise ReferenceNotResolved("This token is not one issued to this relying party.")
            person = await PersonRepository.from_session(session).get(row.person_id)
        if person is None or person.status != PersonStatus.active:
            raise ReferenceNotResolved("The reference belongs to no enrolled person.")
        return person

    async def _person_of_vid(self, session: AsyncSession, value: str, *, rt: Runtime) -> Person | None:
        found = await TokenRepository.from_session(session).vid_with_person(rt.keyring.blind.index(value, kind="vid"))
        if found is None:
            raise ReferenceNotResolved("No such VID.")
        vid, person = found
        if vid.status == VidStatus.revoked:
            raise VidRevoked("This VID was revoked by its holder; ask them for a current one.", vid_id=vid.id)
        if vid.expires_at is not None and vid.expires_at <= rt.clock.now():
            raise VidExpired("This VID has expired; ask its holder for a current one.", vid_id=vid.id)
        return person


token = TokenService()

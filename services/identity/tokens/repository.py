"""Selects of the tokens domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.identity.persons.models import Person, PersonAttribute
from services.identity.tokens.models import PairwiseToken
from services.identity.vids.models import Vid

_tokens = table_of(PairwiseToken)
_attributes = table_of(PersonAttribute)

# Built once: the hot paths run them per request, and a prebuilt statement keeps its compiled-cache key.
# The person's encrypted UIN and whether the relying party already has a token registered for the person, in one
# round trip (by primary key, and by the unique (relying_party_id, person_id) index).
_UIN_AND_REGISTRATION = select(
    _attributes.c.key_id,
    _attributes.c.ciphertext,
    exists()
    .where(_tokens.c.relying_party_id == bindparam("relying_party_id"), _tokens.c.person_id == bindparam("person_id"))
    .label("registered"),
).where(_attributes.c.person_id == bindparam("person_id"), _attributes.c.name == bindparam("name"))

_VID_WITH_PERSON = (
    select(Vid, Person).outerjoin(Person, Person.id == Vid.person_id).where(Vid.vid_index == bindparam("vid_index"))
)


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> TokenRepository:
        return cls(session)

    async def get(self, relying_party_id: str, token_index: str) -> PairwiseToken | None:
        return await self.session.get(PairwiseToken, (relying_party_id, token_index))

    async def uin_and_registration(self, person_id: str, relying_party_id: str, uin_attribute: str) -> Any | None:
        """(key_id, ciphertext, registered) of the person's UIN attribute; None if the person has no UIN."""
        parameters = {"person_id": person_id, "relying_party_id": relying_party_id, "name": uin_attribute}
        return (await self.session.execute(_UIN_AND_REGISTRATION, parameters)).first()

    async def register(self, relying_party_id: str, token_index: str, person_id: str, created_at: datetime) -> bool:
        """Record the token unless it (or another for the same party and person) is there; True if recorded."""
        values = {
            "relying_party_id": relying_party_id,
            "token_index": token_index,
            "person_id": person_id,
            "created_at": created_at,
        }
        return await insert_unless_conflict(self.session, _tokens, values)

    async def vid_with_person(self, vid_index: str) -> tuple[Vid, Person | None] | None:
        """The VID with this blind index and its person, in one select."""
        row = (await self.session.execute(_VID_WITH_PERSON, {"vid_index": vid_index})).first()
        return None if row is None else (row[0], row[1])

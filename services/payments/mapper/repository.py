"""Selects and updates of the mapper."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.db import fetch_prepared_many, fetch_prepared_pooled, insert_unless_conflict, table_of
from services.common.groupcommit import GroupCommit
from services.common.paging import PageRequest
from services.common.repository import Repository
from services.payments.ledger.models import Account
from services.payments.mapper.models import Link

links = table_of(Link)
accounts = table_of(Account)

_RESOLVED = (
    links.c.ref_type,
    links.c.person_ref,
    links.c.account_id,
    accounts.c.participant_id,
    accounts.c.address,
    accounts.c.kind,
)
_RESOLVE_ONE = (
    select(*_RESOLVED)
    .select_from(links.join(accounts, accounts.c.id == links.c.account_id))
    .where(links.c.ref_type == bindparam("ref_type"), links.c.person_ref == bindparam("ref"), links.c.is_default)
)


RESOLVES_PER_GROUP = 64


def resolve_group(engine: AsyncEngine) -> GroupCommit[tuple[str, str], Any]:
    """The process's grouped resolves (`Runtime.resolves`): the resolves that arrive while a group is being read go
    together in the next, pipelined on one pooled connection (`fetch_prepared_many`: one round trip, one snapshot
    taken when the group is read, after every request in it arrived). Nothing is kept between groups, so an unlink
    or a new default committed before a resolve arrives is what that resolve sees, as when each ran alone. With
    nothing else waiting a group is one resolve, sent at once."""
    return GroupCommit(functools.partial(_resolve_together, engine), max_batch=RESOLVES_PER_GROUP,
                       name="mapper-resolves")  # fmt: skip


async def _resolve_together(engine: AsyncEngine, questions: Sequence[tuple[str, str]]) -> list[Any]:
    """One row of `_RESOLVED` (or None) for each (ref_type, person_ref), in order. If the group fails as a whole,
    each is asked again alone, so that one question's failure is its own caller's and no one else's."""
    values = [{"ref_type": ref_type, "ref": person_ref} for ref_type, person_ref in questions]
    try:
        rows = await fetch_prepared_many(engine, _RESOLVE_ONE, values)
    except Exception:
        if len(questions) == 1:
            raise
        return [await _resolve_alone(engine, question) for question in questions]
    found = {(row.ref_type, row.person_ref): row for row in rows}  # a person asked for twice: the same row twice
    return [found.get(question) for question in questions]


async def _resolve_alone(engine: AsyncEngine, question: tuple[str, str]) -> Any:
    try:
        return await resolve_one(engine, *question)
    except Exception as error:  # this question's own failure, raised by its caller
        return error


async def resolve_one(executor: AsyncSession | AsyncEngine, ref_type: str, person_ref: str) -> Any:
    """The person's default address (a row of `_RESOLVED`), in a session, or for a request that runs nothing else
    straight on the engine: on PostgreSQL a prepared statement on a connection taken from the pool, autocommitted
    (one round trip, no SQLAlchemy Connection around it)."""
    values = {"ref_type": ref_type, "ref": person_ref}
    if isinstance(executor, AsyncEngine):
        rows = await fetch_prepared_pooled(executor, _RESOLVE_ONE, values)
        return rows[0] if rows else None
    return (await executor.execute(_RESOLVE_ONE, values)).first()


class MapperRepository(Repository[Link]):
    model = Link

    async def lock_person(self, ref_type: str, person_ref: str) -> list[Link]:
        """The person's links, locked until commit: default changes for one person happen one at a time."""
        statement = (
            select(Link)
            .where(Link.ref_type == ref_type, Link.person_ref == person_ref)
            .order_by(Link.created_at, Link.id)
            .with_for_update()
        )
        return list((await self.session.scalars(statement)).all())

    async def insert(self, values: dict[str, Any]) -> bool:
        return await insert_unless_conflict(self.session, links, values)

    async def set_default(self, ref_type: str, person_ref: str, link_id: str, at: datetime) -> None:
        person = (links.c.ref_type == ref_type) & (links.c.person_ref == person_ref)
        await self.session.execute(update(links).where(person, links.c.is_default).values(is_default=False))
        await self.session.execute(update(links).where(links.c.id == link_id).values(is_default=True, updated_at=at))

    async def page_for(self, ref_type: str, person_ref: str, paging: PageRequest) -> Sequence[tuple[Link, Account]]:
        """A page of one person's links with their accounts, oldest first (ids are time-ordered UUIDv7)."""
        statement = (
            select(Link, Account)
            .join(Account, Account.id == Link.account_id)
            .where(Link.ref_type == ref_type, Link.person_ref == person_ref)
        )
        return [(row[0], row[1]) for row in await self.page(statement, paging)]

    async def list_for(self, ref_type: str, person_ref: str) -> Sequence[tuple[Link, Account]]:
        statement = (
            select(Link, Account)
            .join(Account, Account.id == Link.account_id)
            .where(Link.ref_type == ref_type, Link.person_ref == person_ref)
            .order_by(Link.created_at, Link.id)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def resolve(self, ref_type: str, person_ref: str) -> Any:
        return await resolve_one(self.session, ref_type, person_ref)

    async def resolve_many(self, ref_type: str, person_refs: Sequence[str]) -> Sequence[Any]:
        statement = (
            select(*_RESOLVED)
            .select_from(links.join(accounts, accounts.c.id == links.c.account_id))
            .where(links.c.ref_type == ref_type, links.c.person_ref.in_(person_refs), links.c.is_default)
        )
        return (await self.session.execute(statement)).all()

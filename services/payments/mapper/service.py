"""Link, update, unlink and resolve person references to payment addresses; a person manages their own links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.paging import PageRequest
from services.common.problems import PolicyDenied
from services.payments.deps import Runtime, subject_sub
from services.payments.ledger.errors import AccountNotFound
from services.payments.ledger.models import Account, AccountKind
from services.payments.ledger.repository import LedgerRepository
from services.payments.ledger.service import ledger as ledger_service
from services.payments.mapper.errors import LinkExists, LinkNotFound, NotAccountHolder, Unresolvable
from services.payments.mapper.models import Link, RefType
from services.payments.mapper.repository import MapperRepository
from services.payments.mapper.schemas import (
    LinkCreate,
    LinkPage,
    LinkRead,
    LinkUpdate,
    MyLinkCreate,
    PaymentAddress,
    Resolution,
    ResolvedMany,
)

log = structlog.get_logger(__name__)


class MapperService:
    # --- by an FSP or the operator -------------------------------------------------------------------------------
    async def link(self, session: AsyncSession, caller: Caller, body: LinkCreate, *, rt: Runtime) -> LinkRead:
        account = await self._account(session, caller, body)
        if body.ref_type is RefType.sub and account.owner_ref not in (None, body.person_ref):
            raise NotAccountHolder(f"Account {body.address} at {body.fsp_id} is held by someone else.")
        return await self._create(
            session, body.ref_type, body.person_ref, account, default=body.default, caller=caller, rt=rt
        )

    async def update(
        self, session: AsyncSession, caller: Caller, link_id: str, body: LinkUpdate, *, rt: Runtime
    ) -> LinkRead:
        link = await self._link_of_fsp(session, caller, link_id)
        return await self._update(session, caller, link, body, rt=rt)

    async def unlink(self, session: AsyncSession, caller: Caller, link_id: str, *, rt: Runtime) -> None:
        link = await self._link_of_fsp(session, caller, link_id)
        await self._delete(session, link, caller, rt=rt)

    async def resolve(self, session: AsyncSession, ref_type: RefType, person_ref: str) -> Resolution:
        row = await MapperRepository.from_session(session).resolve(ref_type.value, person_ref)
        if row is None:
            raise Unresolvable("No payment address is linked to this person reference.")
        return _resolution(row)

    async def resolve_now(self, rt: Runtime, ref_type: RefType, person_ref: str) -> Resolution:
        """`resolve` as a request of its own, without a session: read with the resolves arriving at the same time
        (`Runtime.resolves`; on PostgreSQL one pipelined round trip for the group, autocommitted)."""
        row = await rt.resolves.submit((ref_type.value, person_ref))
        if row is None:
            raise Unresolvable("No payment address is linked to this person reference.")
        return _resolution(row)

    async def resolve_many(self, session: AsyncSession, ref_type: RefType, person_refs: Sequence[str]) -> ResolvedMany:
        rows = await MapperRepository.from_session(session).resolve_many(ref_type.value, person_refs)
        found = {row.person_ref: _resolution(row) for row in rows}
        return ResolvedMany(
            resolved=[found[ref] for ref in dict.fromkeys(person_refs) if ref in found],
            unresolved=[ref for ref in dict.fromkeys(person_refs) if ref not in found],
        )

    # --- by the person themselves --------------------------------------------------------------------------------
    async def my_links(self, session: AsyncSession, caller: Caller, paging: PageRequest) -> LinkPage:
        pairs = await MapperRepository.from_session(session).page_for(RefType.sub.value, subject_sub(caller), paging)
        return LinkPage.of(pairs, paging, position=lambda pair: pair[0].id, item=lambda pair: _read(*pair))

    async def link_mine(self, session: AsyncSession, caller: Caller, body: MyLinkCreate, *, rt: Runtime) -> LinkRead:
        sub = subject_sub(caller)
        account = await LedgerRepository.from_session(session).account_by_address(body.fsp_id, body.address)
        if account is None or account.owner_ref != sub:
            # The same answer for "no such account" and "not yours": a person cannot probe others' accounts.
            raise AccountNotFound(f"You hold no account {body.address} at {body.fsp_id}.")
        return await self._create(session, RefType.sub, sub, account, default=body.default, caller=caller, rt=rt)

    async def update_mine(
        self, session: AsyncSession, caller: Caller, link_id: str, body: LinkUpdate, *, rt: Runtime
    ) -> LinkRead:
        return await self._update(session, caller, await self._my_link(session, caller, link_id), body, rt=rt)

    async def unlink_mine(self, session: AsyncSession, caller: Caller, link_id: str, *, rt: Runtime) -> None:
        await self._delete(session, await self._my_link(session, caller, link_id), caller, rt=rt)

    # --- shared --------------------------------------------------------------------------------------------------
    async def _create(
        self, session: AsyncSession, ref_type: RefType, person_ref: str, account: Account, *, default: bool,
        caller: Caller, rt: Runtime,
    ) -> LinkRead:  # fmt: skip
        repository = MapperRepository.from_session(session)
        existing = await repository.lock_person(ref_type.value, person_ref)
        if any(link.account_id == account.id for link in existing):
            raise LinkExists(f"Account {account.address} at {account.participant_id} is already linked.")
        now = rt.clock.now()
        make_default = default or not existing
        link_id = new_id("lnk")
        values: dict[str, Any] = {
            "id": link_id, "ref_type": ref_type.value, "person_ref": person_ref, "account_id": account.id,
            "is_default": False, "created_by": caller.client_id, "created_at": now, "updated_at": now,
        }  # fmt: skip
        if not await repository.insert(values):
            raise LinkExists(f"Account {account.address} at {account.participant_id} is already linked.")
        if make_default:
            await repository.set_default(ref_type.value, person_ref, link_id, now)
        await rt.outbox.add(
            session, "payments.link.created",
            {"link_id": link_id, "ref_type": ref_type.value, "person_ref": person_ref, "fsp_id": account.participant_id,
             "default": make_default, "by": caller.client_id},
        )  # fmt: skip
        link = await repository.get(link_id, populate_existing=True)
        assert link is not None
        return _read(link, account)

    async def _update(
        self, session: AsyncSession, caller: Caller, link: Link, body: LinkUpdate, *, rt: Runtime
    ) -> LinkRead:
        repository = MapperRepository.from_session(session)
        await repository.lock_person(link.ref_type, link.person_ref)
        now = rt.clock.now()
        if body.target is not None:
            account = await self._target(session, caller, link, body.target)
            others = await repository.list_for(link.ref_type, link.person_ref)
            if any(other.account_id == account.id and other.id != link.id for other, _ in others):
                raise LinkExists(f"Account {account.address} at {account.participant_id} is already linked.")
            link.account_id = account.id
            link.updated_at = now
        if body.default:
            await repository.set_default(link.ref_type, link.person_ref, link.id, now)
        await session.flush()
        await rt.outbox.add(session, "payments.link.updated", {"link_id": link.id, "by": caller.client_id})
        fresh = await repository.get(link.id, populate_existing=True)
        target = await LedgerRepository.from_session(session).get_account(link.account_id)
        assert fresh is not None and target is not None
        return _read(fresh, target)

    async def _delete(self, session: AsyncSession, link: Link, caller: Caller, *, rt: Runtime) -> None:
        repository = MapperRepository.from_session(session)
        remaining = [
            other for other in await repository.lock_person(link.ref_type, link.person_ref) if other.id != link.id
        ]
        was_default = link.is_default
        await session.delete(link)
        await session.flush()
        if was_default and remaining:
            # The oldest other link takes over, so a person with any link always has a default to be paid to.
            await repository.set_default(link.ref_type, link.person_ref, remaining[0].id, rt.clock.now())
        await rt.outbox.add(session, "payments.link.removed", {"link_id": link.id, "by": caller.client_id})

    async def _account(self, session: AsyncSession, caller: Caller, target: PaymentAddress) -> Account:
        await ledger_service.ensure_acts_for(session, caller, target.fsp_id)
        account = await LedgerRepository.from_session(session).account_by_address(target.fsp_id, target.address)
        if account is None:
            raise AccountNotFound(f"No account {target.address} at {target.fsp_id}.")
        return account

    async def _target(self, session: AsyncSession, caller: Caller, link: Link, target: PaymentAddress) -> Account:
        if caller.has_role("subject") and not caller.has_role("fsp", "payments_operator"):
            account = await LedgerRepository.from_session(session).account_by_address(target.fsp_id, target.address)
            if account is None or account.owner_ref != link.person_ref:
                raise AccountNotFound(f"You hold no account {target.address} at {target.fsp_id}.")
            return account
        account = await self._account(session, caller, target)
        if link.ref_type == RefType.sub.value and account.owner_ref not in (None, link.person_ref):
            raise NotAccountHolder(f"Account {target.address} at {target.fsp_id} is held by someone else.")
        return account

    async def _link_of_fsp(self, session: AsyncSession, caller: Caller, link_id: str) -> Link:
        link = await MapperRepository.from_session(session).get(link_id, populate_existing=True)
        if link is None:
            raise LinkNotFound(f"No link {link_id}.")
        account = await LedgerRepository.from_session(session).get_account(link.account_id)
        assert account is not None
        if not await ledger_service.acts_for(session, caller, account.participant_id):
            raise PolicyDenied("SG-SEC-1", "Only the FSP holding the linked account, or the operator, may change it.")
        return link

    async def _my_link(self, session: AsyncSession, caller: Caller, link_id: str) -> Link:
        link = await MapperRepository.from_session(session).get(link_id, populate_existing=True)
        if link is None or link.ref_type != RefType.sub.value or link.person_ref != subject_sub(caller):
            raise LinkNotFound(f"You have no link {link_id}.")
        return link


def _read(link: Link, account: Account) -> LinkRead:
    return LinkRead(
        id=link.id,
        ref_type=RefType(link.ref_type),
        person_ref=link.person_ref,
        fsp_id=account.participant_id,
        address=account.address,
        address_kind=AccountKind(account.kind),
        account_id=account.id,
        default=link.is_default,
        created_at=link.created_at,
        updated_at=link.updated_at,
    )


def _resolution(row: Any) -> Resolution:
    return Resolution(
        ref_type=RefType(row.ref_type),
        person_ref=row.person_ref,
        fsp_id=row.participant_id,
        address=row.address,
        address_kind=AccountKind(row.kind),
        account_id=row.account_id,
    )


mapper = MapperService()

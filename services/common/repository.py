"""Repository base: every domain's repository.py starts from it (CONTRIBUTING.md: all `select()`s live in repositories).

    class ConsentRepository(Repository[Consent]):
        model = Consent

        async def active_for(self, subject: str) -> Sequence[Consent]:     # domain-specific selects as before
            ...

    repository = ConsentRepository.from_session(session)
    consent = await repository.get(consent_id)                            # by primary key (or None)
    consent = await repository.get(consent_id, for_update=True)           # SELECT ... FOR UPDATE on PostgreSQL
    rows = await repository.page(select(Consent).where(...), paging)     # keyset page: limit + 1 rows, see paging

    # Conditional updates: one UPDATE ... WHERE that either applies or does not, decided by the database, so a
    # limit holds under any number of parallel requests (never read, compare in Python, then write).
    used = await repository.update_where(
        Consent.id == consent_id, Consent.use_count < Consent.max_uses, values={"use_count": Consent.use_count + 1}
    )                                                                     # True if it applied
    row = await repository.update_returning(
        Account.id == account_id, Account.available >= amount,
        values={"available": Account.available - amount}, returning=(Account.available,),
    )                                                                     # the new values, or None if it did not apply

Conditional updates go straight to the database and do not refresh objects already loaded in the session: use the
returned row, or `get(..., populate_existing=True)` afterwards, if you need the new state as an object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar

from sqlalchemy import ColumnElement, Row, Select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.common.paging import PageRequest

M = TypeVar("M")


class Repository(Generic[M]):
    """Selects and conditional writes for one model (and whatever joins its domain needs)."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)

    async def get(self, ident: Any, *, for_update: bool = False, populate_existing: bool = False) -> M | None:
        """The row with this primary key, or None; `for_update` locks it until the transaction ends."""
        options = {"populate_existing": True} if populate_existing else None
        found: M | None = await self.session.get(
            self.model, ident, with_for_update=for_update, execution_options=options or {}
        )
        return found

    async def page(
        self,
        statement: Select[*tuple[Any, ...]],
        paging: PageRequest,
        *,
        order_by: InstrumentedAttribute[Any] | None = None,
        descending: bool = False,
    ) -> Sequence[Any]:
        """Up to `paging.limit + 1` results of `statement`, ordered by the unique `order_by` (default: the model's
        `id`), after the cursor's position; feed them to `Page.of`. Rows of one entity come back as objects."""
        key = order_by if order_by is not None else self.model.id
        if paging.after is not None:
            statement = statement.where(key < paging.after if descending else key > paging.after)
        statement = statement.order_by(key.desc() if descending else key).limit(paging.limit + 1)
        result = await self.session.execute(statement)
        rows: Sequence[Any] = result.scalars().all() if len(statement.column_descriptions) == 1 else result.all()
        return rows

    async def update_where(self, *conditions: ColumnElement[bool], values: Mapping[str, Any]) -> bool:
        """`UPDATE <model> SET values WHERE conditions`; True if it changed a row (it must match at most one)."""
        statement = update(self.model).where(*conditions).values(dict(values))
        result = await self.session.execute(statement, execution_options={"synchronize_session": False})
        changed: int = result.rowcount  # type: ignore[attr-defined]
        if changed > 1:
            raise RuntimeError(f"update_where matched {changed} rows of {self.model.__name__}; it is for one row")
        return changed == 1

    async def update_returning(
        self, *conditions: ColumnElement[bool], values: Mapping[str, Any], returning: Sequence[Any]
    ) -> Row[Any] | None:
        """Like update_where, but one round trip also gives back `returning` (the new values), or None."""
        statement = update(self.model).where(*conditions).values(dict(values)).returning(*returning)
        result = await self.session.execute(statement, execution_options={"synchronize_session": False})
        rows = result.all()
        if len(rows) > 1:
            raise RuntimeError(f"update_returning matched {len(rows)} rows of {self.model.__name__}")
        return rows[0] if rows else None

"""Column types every service's models use: ids, StrEnum values, UTC timestamps.

    from services.common.columns import EnumColumn, Id, Timestamped, UTCDateTime

    class Consent(Timestamped, Base):          # created_at and updated_at, UTC, set from the service's clock
        __tablename__ = "consents"

        id: Mapped[Id] = mapped_column(primary_key=True)                # String(64): "csn_0196..." ids
        requester: Mapped[Id]                                            # a reference to another id
        status: Mapped[ConsentStatus] = mapped_column(EnumColumn(ConsentStatus))  # the enum in, the enum out

`Id` stores `services.common.ids.new_id()` values (a prefix and a UUIDv7). `EnumColumn` stores a StrEnum's value
in a VARCHAR (no database enum type, so adding a member needs no migration) and refuses a value that is not a
member, so a typo fails at the write, not at a later read. Both render as plain String(n) columns in migrations.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from services.common.db import UTCDateTime

ID_LENGTH = 64

Id = Annotated[str, mapped_column(String(ID_LENGTH))]

E = TypeVar("E", bound=StrEnum)


class EnumColumn(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its value in a VARCHAR; reads give the enum member back."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int | None = None) -> None:
        self.enum = enum
        longest = max((len(member.value) for member in enum), default=1)
        super().__init__(length or max(16, longest))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum(value).value  # ValueError for a value that is not a member

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum


class Timestamped:
    """`created_at` and `updated_at` columns (UTC, timezone-aware on both backends). Set them from the injectable
    clock (`now = rt.clock.now()`), never from the database server's time, so tests can move time."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = ["ID_LENGTH", "EnumColumn", "Id", "Timestamped", "UTCDateTime"]

"""Bulk loads (synthetic populations, migrations of data): rows streamed with COPY on PostgreSQL and batched INSERTs
on SQLite, and the constraints a load defers to its end.

A table's foreign keys, unique constraints and secondary indexes cost more maintained row by row than built once
over the loaded rows (a foreign key is a trigger and a look-up per row), so a load may drop them before it starts
and build them again when it finishes, as pg_restore does. Primary keys stay: they keep a resumed load from writing
a row twice. What is dropped and rebuilt is exactly the models' own DDL (names from the naming convention, so the
same as the migrations'); rebuilding validates every row, so a load that broke a constraint fails there, loudly.
Both steps are idempotent: a load interrupted in between defers again when it resumes and restores at its end.
Only for an offline load: while constraints are deferred, nothing else should write to these tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Table, UniqueConstraint, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import AddConstraint, CreateIndex

# Memory for each index build at the end of a load: the default 64 MB sorts a million keys on disk.
RESTORE_WORK_MEM = "512MB"


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def write_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    """Append `records` (values in the order of `columns`) to `table`, in the session's transaction."""
    if not records:
        return
    if is_postgresql(session):
        raw = await (await session.connection()).get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=records, columns=list(columns))
    else:
        await session.execute(insert(table), [dict(zip(columns, record, strict=True)) for record in records])


def _foreign_keys(tables: Iterable[Table]) -> list[ForeignKeyConstraint]:
    return [fk for table in tables for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name))]


def _uniques(tables: Iterable[Table]) -> list[UniqueConstraint]:
    return [
        c for t in tables for c in sorted(t.constraints, key=lambda c: str(c.name)) if isinstance(c, UniqueConstraint)
    ]


async def defer_constraints(session: AsyncSession, tables: Sequence[Table]) -> None:
    """Drop the tables' foreign keys, unique constraints and secondary indexes (PostgreSQL; nothing on SQLite)."""
    if not is_postgresql(session):
        return
    for constraint in (*_foreign_keys(tables), *_uniques(tables)):
        assert constraint.table is not None
        await session.execute(
            text(f'ALTER TABLE "{constraint.table.name}" DROP CONSTRAINT IF EXISTS "{constraint.name}"')
        )
    for table in tables:
        for index in table.indexes:
            await session.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))


async def restore_constraints(session: AsyncSession, tables: Sequence[Table]) -> None:
    """Build again whatever `defer_constraints` dropped and is missing: unique constraints, indexes, foreign keys.

    `isolate_from_table=False`: by default SQLAlchemy's AddConstraint marks the model's constraint as added apart
    from its table, and every CREATE TABLE the process emits afterwards leaves it out. A seed followed by a new
    database in the same process (the embedded sandbox, the test suite) then got tables without their unique keys:
    a UIN could be issued twice."""
    if not is_postgresql(session):
        return
    await session.execute(text(f"SET LOCAL maintenance_work_mem = '{RESTORE_WORK_MEM}'"))
    present = set(
        await session.scalars(
            text(
                "SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                "UNION SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
        )
    )
    for unique in _uniques(tables):
        if unique.name not in present:
            await session.execute(AddConstraint(unique, isolate_from_table=False))
    for table in tables:
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name not in present:
                await session.execute(CreateIndex(index))
    for fk in _foreign_keys(tables):
        if fk.name not in present:
            await session.execute(AddConstraint(fk, isolate_from_table=False))

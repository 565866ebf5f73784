"""Group commit: the appends of many concurrent requests written in one transaction.

An *append* is an INSERT that the request never reads back (an auth-history entry, an outbox event). A request
queues its appends on its session with `append`. By default they are written in the session's own transaction just
before it commits, so they stay atomic with whatever else the request changed. When the request changed nothing
else (it only read), `take_group_appends` hands them to the process's `GroupCommit` instead: one writer task puts
the appends of every request waiting at that moment into one transaction, and each request answers only after the
commit that carries its rows. Durability is unchanged (no response precedes the synchronous commit of its rows);
what requests share is the round trips, the commit and its WAL flush. Batches form on their own while the previous
one commits, with no timer: under light load a batch holds one request and adds no latency.

A batch that fails is retried one request at a time, so a request whose rows cannot be written fails alone.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction
from sqlalchemy.sql.dml import Insert

log = structlog.get_logger(__name__)

_APPENDS = "dpi.appends"
_WROTE = "dpi.wrote"


@dataclass(frozen=True)
class Append:
    """One row to insert. `unless_conflict`: skip it silently if it would violate a unique key."""

    table: Table
    row: dict[str, Any]
    unless_conflict: bool = False
    transaction: SessionTransaction | None = None  # where it was queued: a rolled-back savepoint drops it


class AppendingSession(Session):
    """A session that carries appends and notes whether it wrote anything else (see the module's docstring)."""


def append(session: AsyncSession, table: Table, row: dict[str, Any], *, unless_conflict: bool = False) -> None:
    """Queue `row` for `table`; it is written when the session commits (or with other requests' appends)."""
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_APPENDS, []).append(Append(table, row, unless_conflict, transaction))


def take_group_appends(session: AsyncSession) -> list[Append]:
    """The session's appends if it wrote nothing else (removed from it: the caller writes them); else none."""
    info = session.sync_session.info
    if info.get(_WROTE):
        return []
    appends: list[Append] = info.pop(_APPENDS, [])
    return appends


@event.listens_for(AppendingSession, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[_WROTE] = True


@event.listens_for(AppendingSession, "after_flush")
def _note_flush(session: Session, _context: UOWTransaction) -> None:
    session.info[_WROTE] = True


@event.listens_for(AppendingSession, "before_commit")
def _write_with_session(session: Session) -> None:
    # Runs inside the async session's greenlet, so the synchronous execute is the async one underneath.
    appends: list[Append] = session.info.pop(_APPENDS, [])
    dialect = session.get_bind().dialect.name
    for statement, rows in _statements(appends, dialect):
        session.execute(statement, rows)


@event.listens_for(AppendingSession, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    appends: list[Append] = session.info.get(_APPENDS, [])
    if previous.nested:
        session.info[_APPENDS] = [a for a in appends if a.transaction is not previous]
    else:
        session.info.pop(_APPENDS, None)
        session.info.pop(_WROTE, None)


def _statements(appends: Iterable[Append], dialect: str) -> list[tuple[Insert, list[dict[str, Any]]]]:
    """One executemany per table, conflict rule and column set, in the order the tables were first appended to."""
    grouped: dict[tuple[Table, bool, frozenset[str]], list[dict[str, Any]]] = {}
    for item in appends:
        grouped.setdefault((item.table, item.unless_conflict, frozenset(item.row)), []).append(item.row)
    return [(_insert(table, conflict, dialect), rows) for (table, conflict, _), rows in grouped.items()]


@functools.cache
def _insert(table: Table, unless_conflict: bool, dialect: str) -> Insert:
    """Built once per table: a statement rebuilt per call costs more to construct and cache-key than to run."""
    if not unless_conflict:
        return insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise ValueError(f"unsupported database backend {dialect!r}")  # pragma: no cover - create_engine allows two


@dataclass
class _Waiting:
    appends: list[Append]
    done: asyncio.Future[None]


class GroupCommit:
    """The process's writer of appends from requests that changed nothing else; see the module's docstring.

    Up to `writers` transactions are in flight at once: with a single one, every waiting request (and so the whole
    process) would sit idle through each batch's round trips.
    """

    def __init__(self, engine: AsyncEngine, *, writers: int = 4, max_rows: int = 2000) -> None:
        self._engine = engine
        self._writers = writers
        self._max_rows = max_rows
        self._waiting: list[_Waiting] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self.batches = 0  # how many transactions carried how many requests (the tests read them)
        self.requests = 0

    async def write(self, appends: Sequence[Append]) -> None:
        """Return once `appends` are committed; raises what writing them raised."""
        if not appends:
            return
        if not self._running:  # outside the lifespan (or after it): a transaction of its own
            await self._commit(list(appends))
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(list(appends), done))
        if len(self._tasks) < self._writers:
            task = asyncio.create_task(self._drain(), name="group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await done

    def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        """Write what is waiting, then stop; later appends get a transaction each."""
        self._running = False
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drain()

    async def _drain(self) -> None:
        while self._waiting:
            batch: list[_Waiting] = []
            rows = 0
            while self._waiting and (not batch or rows + len(self._waiting[0].appends) <= self._max_rows):
                item = self._waiting.pop(0)
                batch.append(item)
                rows += len(item.appends)
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Waiting]) -> None:
        try:
            await self._commit([a for item in batch for a in item.appends])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0].done, error)
                return
            log.warning("group_commit.batch_failed", requests=len(batch), error=type(error).__name__)
            for item in batch:  # one at a time, so that only the request whose rows fail gets the error
                try:
                    await self._commit(item.appends)
                except Exception as alone:
                    _settle(item.done, alone)
                else:
                    _settle(item.done, None)
        else:
            self.batches += 1
            self.requests += len(batch)
            for item in batch:
                _settle(item.done, None)

    async def _commit(self, appends: list[Append]) -> None:
        async with self._engine.begin() as connection:
            for statement, rows in _statements(appends, connection.dialect.name):
                await connection.execute(statement, rows)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the request gave up waiting (its client went away); its rows are written all the same
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)

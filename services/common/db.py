"""Async SQLAlchemy 2 for SQLite (embedded default) and PostgreSQL (target for load and distribution), chosen by URL.

Each service owns its database. On PostgreSQL a service's tables live in its own schema, selected through the
connection's `search_path`, so models and migrations carry no schema name and the same code serves one database
per service (distributed) or one database with a schema per service (tests, small installs).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import operator
import re
from collections import namedtuple
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import DateTime, MetaData, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.concurrency import greenlet_spawn

from services.common.problems import ProblemError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always handed back timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


_SHOWN_QUERY = frozenset({"host", "port"})  # where the server is (a socket directory, several hosts); nothing else


def shown_url(url: str) -> str:
    """A database URL as a message or a log line may carry it: the password masked, and of the query only where the
    server is. The driver also takes `?password=`, which `render_as_string(hide_password=True)` leaves in."""
    parsed = make_url(url)
    shown = parsed.set(query={name: value for name, value in parsed.query.items() if name in _SHOWN_QUERY})
    return shown.render_as_string(hide_password=True)


def create_engine(
    url: str, *, schema: str | None = None, sqlite_begin: str = "BEGIN IMMEDIATE", **kwargs: Any
) -> AsyncEngine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and explicit BEGINs; PostgreSQL gets the schema path.

    SQLite transactions begin IMMEDIATE by default: a deferred transaction that reads and then writes fails at once
    with "database is locked" when another writer got in between (the busy timeout does not cover that upgrade), so
    taking the single write lock up front is what makes read-then-write logic correct under concurrency there.
    """
    parsed = make_url(url)
    # Statement parameters hold personal data (names, encrypted fields, indexes): never in an exception's text, so
    # never in a traceback or a log line (see services.common.logging).
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite has one writer anyway, and queueing in the pool is FIFO and cheap,
        # whereas several connections contending for the write lock fall into SQLite's sleeping busy handler
        # (measured: p99 above a second with eight requests in flight; see docs/benchmarks.md).
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 30)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine, sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {}
        if schema:
            if not _SCHEMA_NAME.match(schema):
                raise ValueError(f"unsafe schema name {schema!r}")
            connect_args["server_settings"] = {"search_path": schema}
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", False)
        return create_async_engine(url, connect_args=connect_args, **kwargs)
    raise ValueError(
        f"unsupported database backend {parsed.get_backend_name()!r} (use sqlite+aiosqlite or postgresql+asyncpg)"
    )


def _configure_sqlite(engine: AsyncEngine, begin_statement: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT and defers BEGIN; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin_statement)


async def ensure_schema(engine: AsyncEngine, schema: str | None) -> None:
    """Create the service's PostgreSQL schema if needed (a no-op on SQLite)."""
    if schema and engine.dialect.name == "postgresql":
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"unsafe schema name {schema!r}")
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


async def create_all(engine: AsyncEngine, metadata: MetaData, schema: str | None = None) -> None:
    """Build tables straight from the models: for tests only. Deployments run Alembic (`dpi-sandbox db upgrade`)."""
    await ensure_schema(engine, schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed after the handler returns, rolled back if anything raised, except a
    problem marked `commit_before_raise` (services.common.problems), which is committed first and then answered.

    Declared with `scope="function"` (see deps) so the commit happens before the response is sent: a client never
    sees a success whose commit then failed.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        session.info[_AFTER_COMMIT] = []
        try:
            yield session
        except ProblemError as refusal:
            if refusal.commit_before_raise:
                await session.commit()
                await _announce(session)
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
            await _announce(session)


_AFTER_COMMIT = "dpi.after_commit"


def after_commit(session: AsyncSession, announce: Callable[[], Awaitable[None]]) -> None:
    """Have `announce` run once the request's session (`get_session`) has committed, before the answer leaves: for
    what other processes may learn of a change only once it is there to be read (a cache told that its entries are
    stale). Registered twice, it runs once; if the request rolls back, not at all. If it raises, the change stays
    committed and the request answers with its error (the client repeats it, and it is announced again). Only a
    request's session runs them: any other raises here, rather than leave a change unannounced."""
    waiting: list[Callable[[], Awaitable[None]]] | None = session.info.get(_AFTER_COMMIT)
    if waiting is None:
        raise RuntimeError("after_commit needs the request's session (get_session): no other one announces")
    if announce not in waiting:
        waiting.append(announce)


async def _announce(session: AsyncSession) -> None:
    """Every announcement, even after one failed; then the first failure, if any."""
    failures: list[BaseException] = []
    for announce in session.info.pop(_AFTER_COMMIT, ()):
        try:
            await announce()
        except Exception as error:
            failures.append(error)
    if failures:
        raise failures[0]


@contextlib.asynccontextmanager
async def autocommit_connection(engine: AsyncEngine, *, autocommit: bool = True) -> AsyncIterator[AsyncConnection]:
    """For a request that runs one statement: on PostgreSQL autocommit, each statement its own transaction (one
    round trip, no BEGIN or COMMIT); on SQLite one transaction (its BEGIN IMMEDIATE listener would otherwise open
    one that nothing commits). `autocommit=False` hands over the PostgreSQL connection as it comes, for statements
    run with `fetch_prepared` on the driver's connection underneath, outside SQLAlchemy's transactions."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT") if autocommit else connection
    else:
        async with engine.begin() as connection:
            yield connection


@dataclass(frozen=True)
class Prepared:
    """A Core statement as asyncpg runs it: the SQL text SQLAlchemy compiled once, the parameter names in `$n` order
    with each one's bind processor (the column types' conversions: JSON to text, UTC for timestamps), the values
    SQLAlchemy bound as literals (statuses, increments, limits), and the shape of the rows it returns."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    constants: Mapping[str, Any]
    row: Any  # a namedtuple class: rows with the same named fields as SQLAlchemy's

    def __post_init__(self) -> None:
        # Built once: picking the values in `$n` order is one C call, and only the few parameters with a bind
        # processor go through Python (a decision's 28 parameters took 8 us one by one; measured in process).
        pick = operator.itemgetter(*self.names) if len(self.names) > 1 else None
        convert = tuple((n, process) for n, process in enumerate(self.processors) if process is not None)
        object.__setattr__(self, "_pick", pick)
        object.__setattr__(self, "_convert", convert)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        merged = {**self.constants, **values}
        pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = self._pick  # type: ignore[attr-defined]
        arguments = list(pick(merged)) if pick is not None else [merged[name] for name in self.names]
        for n, process in self._convert:  # type: ignore[attr-defined]
            if arguments[n] is not None:
                arguments[n] = process(arguments[n])
        return arguments


@functools.cache
def prepared(statement: Executable, dialect: Dialect) -> Prepared:
    """`statement` (built once, at import or under `functools.cache`) compiled once for `dialect`."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]  # every Core statement has it
    names = tuple(compiled.positiontup or ())
    processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    constants = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    columns = [column.key for column in getattr(statement, "exported_columns", ())]
    return Prepared(compiled.string, names, processors, constants, namedtuple("Row", columns))


async def fetch_prepared(
    connection: AsyncConnection, statement: Executable, values: Mapping[str, Any]
) -> Sequence[Any]:
    """The rows of a hot path's statement, without SQLAlchemy's per-execution work.

    On PostgreSQL it runs on the asyncpg connection under the pooled SQLAlchemy one, as a prepared statement asyncpg
    keeps per connection, from SQL compiled once (`prepared`): SQLAlchemy would otherwise rebuild the statement's
    cache key and bind its parameters anew on every execution, several times the cost of the round trip (measured on
    consent's permit and payments' resolve, see docs/benchmarks.md). Outside SQLAlchemy's transactions, as the
    connections of `autocommit_connection(engine, autocommit=False)` are, each statement commits on its own; inside
    `prepared_transaction`, with the others of the block. Values go through the column types' bind processors, as
    SQLAlchemy's would; the rows have the same named fields. A driver error comes back as SQLAlchemy's DBAPIError
    (so a data exception is still a 422), and the connection is invalidated: it never goes back to the pool in an
    unknown state. On SQLite the statement simply runs through SQLAlchemy. `values` names every parameter of the
    compiled statement: for an INSERT built without `.values()`, every column (None for NULL)."""
    if connection.dialect.name != "postgresql":
        return (await connection.execute(statement, dict(values))).all()
    driver = (await connection.get_raw_connection()).driver_connection
    return await _driver_fetch(driver, prepared(statement, connection.dialect), values, connection.invalidate)


async def fetch_prepared_pooled(engine: AsyncEngine, statement: Executable, values: Mapping[str, Any]) -> Sequence[Any]:
    """`fetch_prepared` for a request whose whole database work is this one statement: on PostgreSQL it runs on an
    asyncpg connection taken straight from the engine's pool, autocommitted (one round trip), without wrapping it in
    a SQLAlchemy Connection first (that wrapper costs half as much again as the pool's own check-out and check-in:
    48 against 22 us, measured on consent's permit). The same errors and invalidation as `fetch_prepared`. On SQLite,
    one transaction through SQLAlchemy."""
    return await fetch_prepared_many(engine, statement, [values])


async def fetch_prepared_many(
    engine: AsyncEngine, statement: Executable, values: Sequence[Mapping[str, Any]]
) -> Sequence[Any]:
    """`statement` run once for each of `values`, in that order, in one transaction: the rows of all the runs, in
    order, as one list (a statement that must tell its runs apart returns a column saying which, such as a bound
    slot number). The runs see each other's changes as consecutive statements of one transaction do.

    On PostgreSQL the runs are pipelined on a connection taken straight from the pool (asyncpg's `fetchmany`: every
    Bind and Execute, then one Sync), so the whole group costs one round trip and one commit, a group commit for
    requests gathered by `services.common.groupcommit.GroupCommit`. It is atomic: if any run fails, none of them took
    effect, and the error comes back as for `fetch_prepared` (the connection invalidated). On SQLite, one
    transaction through SQLAlchemy."""
    if engine.dialect.name != "postgresql":
        async with engine.begin() as connection:
            return [row for one in values for row in (await connection.execute(statement, dict(one))).all()]
    pooled = await engine.raw_connection()

    async def invalidate() -> None:
        await greenlet_spawn(pooled.invalidate)

    try:
        return await _driver_fetch(pooled.driver_connection, prepared(statement, engine.dialect), values, invalidate)
    finally:
        await greenlet_spawn(pooled.close)  # back to the pool (a fresh connection replaces an invalidated one)


async def _driver_fetch(
    driver: Any,
    compiled: Prepared,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    invalidate: Callable[[], Awaitable[None]],
) -> Sequence[Any]:
    """Run a prepared statement on asyncpg, once for `values` or pipelined for each of a sequence of them; on a
    failure the connection is invalidated (it never goes back to the pool in an unknown state) and a driver error
    comes back as SQLAlchemy's DBAPIError. The one exception: an error the server answered for an autocommitted
    statement (a unique violation, say) leaves the connection as clean as any other answer (the statement, or the
    pipelined group, rolled back, the server ready for the next), so it goes back to the pool."""
    try:
        if isinstance(values, Mapping):
            records = await driver.fetch(compiled.sql, *compiled.arguments(values))
        elif len(values) == 1:
            records = await driver.fetch(compiled.sql, *compiled.arguments(values[0]))
        else:
            records = await driver.fetchmany(compiled.sql, [compiled.arguments(one) for one in values])
    except BaseException as error:
        server_error = isinstance(error, Exception) and hasattr(error, "sqlstate")
        if not (server_error and not driver.is_in_transaction() and not driver.is_closed()):
            await invalidate()
        if server_error:
            raise DBAPIError(compiled.sql, None, error, hide_parameters=True) from error
        raise
    return [compiled.row(*record) for record in records]


def is_unique_violation(error: DBAPIError) -> bool:
    """Whether a statement of `fetch_prepared` failed on a unique or primary key constraint (SQLSTATE 23505)."""
    return getattr(error.orig, "sqlstate", None) == "23505"


@contextlib.asynccontextmanager
async def prepared_transaction(engine: AsyncEngine) -> AsyncIterator[PreparedTransaction]:
    """PostgreSQL only: one transaction on the driver's connection for statements run with `fetch_prepared` (BEGIN,
    the statements, COMMIT, with none of the session's work in between). Committed when the block ends, rolled back
    if it raises or calls `rollback_only()`."""
    if engine.dialect.name != "postgresql":
        raise RuntimeError("prepared_transaction runs on PostgreSQL's driver connection only")
    async with engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        async with _driver_transaction(
            driver, functools.partial(fetch_prepared, connection), connection.invalidate
        ) as handle:
            yield handle


@contextlib.asynccontextmanager
async def _driver_transaction(
    driver: Any,
    fetch: Callable[[Executable, Mapping[str, Any]], Awaitable[Sequence[Any]]],
    lost: Callable[[], Awaitable[None]],
) -> AsyncIterator[PreparedTransaction]:
    """BEGIN on the asyncpg connection `driver`, the block's statements through `fetch`, then COMMIT (or ROLLBACK if
    the block called `rollback_only()`); if anything fails, `lost()` invalidates the connection, which rolls back
    what the server holds, and it is not reused."""
    transaction = driver.transaction()
    try:
        await transaction.start()
        handle = PreparedTransaction(fetch)
        yield handle
        await (transaction.rollback() if handle.rolled_back else transaction.commit())
    except BaseException:
        await lost()
        raise


class PreparedTransaction:
    """The connection of a `prepared_transaction` (or of `HeldConnection.transaction`): `fetch` runs a statement in
    it; `rollback_only` undoes it all."""

    def __init__(self, fetch: Callable[[Executable, Mapping[str, Any]], Awaitable[Sequence[Any]]]) -> None:
        self._fetch = fetch
        self.rolled_back = False

    async def fetch(self, statement: Executable, values: Mapping[str, Any]) -> Sequence[Any]:
        return await self._fetch(statement, values)

    def rollback_only(self) -> None:
        self.rolled_back = True


class HeldConnection:
    """PostgreSQL: one pooled connection kept checked out by a single sequential writer between its statements (a
    group commit's writer, which writes one batch at a time), so that each statement skips the pool's check-out and
    check-in: `fetch_prepared_pooled` pays both for every statement, about 0.14 ms on a 2-core machine where the
    statement's round trip itself took 0.24 ms (`SELECT 1`, 3 x 1,000 alternating). `fetch` and `transaction` are
    `fetch_prepared_pooled` and `prepared_transaction` on the held connection, with the same errors. The connection
    is checked out at the first use, and invalidated and let go after a failure that leaves it in an unknown state
    (the next use checks out another); `release()` returns it to the pool, before its engine is disposed. A
    connection of an event loop that has ended is let go at the next use from another. One user at a time: a second
    concurrent use is a programming error and raises, as does a statement of a transaction after its connection was
    let go (it would otherwise run, and commit, outside the transaction)."""

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name != "postgresql":
            raise RuntimeError("a held connection runs on PostgreSQL's driver connection only")
        self._engine = engine
        self._pooled: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the event loop of its user, while busy
        self._pooled_loop: asyncio.AbstractEventLoop | None = None  # the event loop the connection belongs to
        self._busy = False

    async def fetch(self, statement: Executable, values: Mapping[str, Any]) -> Sequence[Any]:
        with self._using():
            return await self._fetch(statement, values)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PreparedTransaction]:
        with self._using():
            driver = await self._driver()
            pooled = self._pooled

            async def fetch(statement: Executable, values: Mapping[str, Any]) -> Sequence[Any]:
                if self._pooled is not pooled:  # let go after a failure: nothing more runs outside the transaction
                    raise RuntimeError("the held connection was lost inside its transaction")
                return await self._fetch(statement, values)

            async with _driver_transaction(driver, fetch, self._let_go) as handle:
                yield handle

    async def release(self) -> None:
        if self._busy and self._loop is asyncio.get_running_loop():
            raise RuntimeError("a held connection in use cannot be released")
        pooled, self._pooled = self._pooled, None
        if pooled is not None:
            await greenlet_spawn(pooled.close)

    @contextlib.contextmanager
    def _using(self) -> Any:
        loop = asyncio.get_running_loop()
        # A user of an event loop that has ended (an app reused after its loop closed) left it busy for good.
        if self._busy and self._loop is loop:
            raise RuntimeError("a held connection serves one user at a time")
        self._busy, self._loop = True, loop
        try:
            yield
        finally:
            self._busy = False

    async def _driver(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pooled is not None and self._pooled_loop is not loop:
            await self._let_go()  # a connection of another event loop cannot serve this one
        if self._pooled is None:
            self._pooled, self._pooled_loop = await self._engine.raw_connection(), loop
        return self._pooled.driver_connection

    async def _fetch(self, statement: Executable, values: Mapping[str, Any]) -> Sequence[Any]:
        driver = await self._driver()
        return await _driver_fetch(driver, prepared(statement, self._engine.dialect), values, self._let_go)

    async def _let_go(self) -> None:
        pooled, self._pooled = self._pooled, None
        if pooled is not None:
            await greenlet_spawn(pooled.invalidate)
            await greenlet_spawn(pooled.close)  # back to the pool, where a fresh connection replaces it


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class, typed as one (for Core statements on append-only and hot-path rows)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


async def insert_unless_conflict(
    session: AsyncSession | AsyncConnection, table: Table, values: Mapping[str, Any]
) -> bool:
    """Insert one row unless it would violate a unique or primary key constraint; True if the row was inserted.

    `INSERT ... ON CONFLICT DO NOTHING RETURNING`: one statement instead of a SAVEPOINT, the INSERT and its RELEASE
    (or ROLLBACK TO), and the enclosing transaction stays usable either way. A concurrent insert of the same key is
    waited for, exactly as a plain INSERT would be, and then counts as a conflict if it commits.
    """
    dialect = session.dialect if isinstance(session, AsyncConnection) else session.get_bind().dialect
    statement = unless_conflict(dialect.name, table)
    result = await session.execute(statement, dict(values))
    return result.first() is not None


@functools.cache
def unless_conflict(dialect: str, table: Table) -> ReturningInsert[Any]:
    """The statement of `insert_unless_conflict`, built once per table and dialect: hot paths insert this way per
    request (see Outbox.add on why), some of them as a prepared statement (`fetch_prepared`)."""
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - create_engine accepts only the two
        raise ValueError(f"unsupported database backend {dialect!r}")
    return statement.returning(next(iter(table.primary_key.columns)))


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))

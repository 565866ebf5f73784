"""The directory as fetches read it, kept between fetches while nothing in it has changed.

Every fetch needs the consumer's subsystem, the service and the live access right (`fetch_directory`, one
PostgreSQL round trip). They change rarely, and a fetch one at a time spent a fifth of its time beyond the direct
call reading them (docs/benchmarks.md). So a process keeps what it read, under a **token** that names the
directory's current state: a fetch first reads the token, and uses what it kept only if it was read under the same
token. Every write to the directory replaces the token, after its commit and before its answer leaves
(`services.common.db.after_commit`). Hence the rule the directory had when it was read on every fetch still holds:
a right revoked (or narrowed) is seen by every fetch that starts after the revocation was answered, in every
process. A fetch already under way may still use what it read, as it always could.

Where the token lives follows the replay store, which has the same reach:
- Redis (the distributed mode, any number of replicas): one key per database, read by each fetch while the
  assertion's replay check is in flight. A token missing (Redis restarted: it keeps nothing on disk) starts a new
  one, and nothing kept under an old token is used again. If Redis cannot be reached, the fetch is refused (503),
  as the replay check refuses it.
- memory (one process per service, the embedded mode): the token is the process's own.
- the database (replicas without Redis): nothing is kept; every fetch reads the directory.

Only a complete grant is kept (a subsystem, an active service, a live right): a refusal is read again each time, so a
registration is never hidden by an earlier miss. What a change made behind the exchange's back (SQL typed into its
database) leaves stale is read again after `MAX_AGE_SECONDS` at the latest.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.problems import ServiceUnavailable
from services.exchange.members.repository import FetchDirectory, fetch_directory

MAX_AGE_SECONDS = 10.0
MAX_ENTRIES = 10_000
_monotonic = time.monotonic  # looked up at each use, so that a test can move it


class DirectoryUnavailable(ServiceUnavailable):
    """Redis, where the directory's token lives, did not answer: a fetch is refused (as the replay check would
    refuse it), and a directory write is saved but answers this until it is repeated and announced."""

    title = "The directory's state cannot be confirmed right now"
    type_slug = "exchange/directory-unavailable"
    code = "exchange.directory_unavailable"


class Tokens(Protocol):
    """Where the token naming the directory's current state is kept."""

    async def current(self) -> str | None:
        """The token now, or None where there is none to trust (nothing kept may then be used)."""
        ...

    async def replace(self) -> None:
        """A new token: everything kept under the old one is stale."""
        ...


def _new_token() -> str:
    return secrets.token_hex(16)


class LocalTokens:
    """One process's own token (the embedded mode, where the replay store is the process's memory too)."""

    def __init__(self) -> None:
        self._token = _new_token()

    async def current(self) -> str | None:
        return self._token

    async def replace(self) -> None:
        self._token = _new_token()


class RedisTokens:
    """The token in Redis, shared by every replica on the same database. The key names the database as the database
    itself tells it (its name and schema on PostgreSQL, the file's real path on SQLite), not as a URL spells it:
    replicas that reach one server by different names (a host name, an address, a socket) still share one token.
    Two databases that share their name and schema on different servers share it too, which only makes their
    processes read their directories again more often."""

    def __init__(self, client: aioredis.Redis, engine: AsyncEngine) -> None:
        self._client = client
        self._engine = engine
        # SQLite's is known at once; PostgreSQL's is asked of the server at the first use.
        self._key = (
            _key_for("sqlite:" + os.path.realpath(engine.url.database or ""))
            if engine.dialect.name == "sqlite"
            else None
        )

    async def key(self) -> str:
        if self._key is None:
            async with self._engine.connect() as connection:
                name, schema = (await connection.execute(text("SELECT current_database(), current_schema()"))).one()
            self._key = _key_for(f"{self._engine.dialect.name}:{name}:{schema}")
        return self._key

    async def current(self) -> str | None:
        key = await self.key()
        try:
            token = await self._client.get(key)
            if token is None:  # never set, or Redis restarted: a new one, and nothing kept is used this time
                await self._client.set(key, _new_token(), nx=True)
                return None
        except RedisError as error:
            raise DirectoryUnavailable("The exchange cannot confirm its directory right now; try again.") from error
        return token.decode() if isinstance(token, bytes) else str(token)

    async def replace(self) -> None:
        key = await self.key()
        try:
            await self._client.set(key, _new_token())
        except RedisError as error:
            raise DirectoryUnavailable(
                "The change is saved, but the exchange's other processes could not be told of it: repeat the "
                "request, so that they are."
            ) from error


def _key_for(database: str) -> str:
    return "dpi:exchange-directory:" + hashlib.sha256(database.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Kept:
    token: str
    directory: FetchDirectory
    at: float  # _monotonic()


class DirectoryCache:
    """`fetch_directory`, with what was read kept while the token stays the same. `tokens` None: nothing is kept."""

    def __init__(self, tokens: Tokens | None, *, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self._tokens = tokens
        self._max_age = max_age_seconds
        self._kept: dict[tuple[str, str], _Kept] = {}

    async def fetch(self, engine: AsyncEngine, client_id: str, service_id: str) -> FetchDirectory:
        if self._tokens is None:
            return await fetch_directory(engine, client_id, service_id)
        token = await self._tokens.current()  # before the directory is read: a change after it replaces the token
        key = (client_id, service_id)
        kept = self._kept.get(key)
        now = _monotonic()
        if token is not None and kept is not None and kept.token == token and now - kept.at < self._max_age:
            return kept.directory
        directory = await fetch_directory(engine, client_id, service_id)
        if token is not None and _granted(directory):
            if len(self._kept) >= MAX_ENTRIES:
                self._kept.clear()
            self._kept[key] = _Kept(token, directory, now)
        return directory

    async def changed(self) -> None:
        """The directory changed (committed): nothing kept is used again, here or in any other process."""
        self._kept.clear()
        if self._tokens is not None:
            await self._tokens.replace()


def _granted(directory: FetchDirectory) -> bool:
    return (
        directory.subsystem is not None
        and directory.service is not None
        and directory.service.status == "active"
        and directory.right is not None
    )

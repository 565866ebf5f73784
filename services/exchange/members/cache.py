"""The directory as fetches read it, kept between fetches while nothing in it has changed.

Every fetch needs the consumer's subsystem, the service and the live access right (`fetch_directory`, one database
round trip). They change rarely, and one at a time that round trip was a good part of what a fetch cost beyond the
provider's own work (docs/benchmarks.md). So a process keeps what it read, under a **token** in Redis that names the
directory's current state: a fetch reads the token first (while the assertion's replay check is in flight), and
uses what it kept only if it was read under the same token, less than `MAX_AGE_SECONDS` ago. Every write to the
directory replaces the token after its commit and before its answer leaves (`services.common.db.after_commit`).
Hence the rule the directory had when it was read on every fetch still holds: a right revoked (or narrowed) is seen
by every fetch that starts after the revocation was answered, in every process. A fetch already under way may still
use what it read, as it always could.

What this needs of Redis is what the replay store needs: one Redis for every replica, keeping nothing on disk and
never failing over to an older copy, so that a token, once replaced, never comes back. The process checks at start
that Redis saves nothing (`CONFIG GET save` and `appendonly`) and keeps nothing if it does, or cannot tell. A token
that is missing (Redis restarted) starts a new one, and nothing kept under an old one is used again. If Redis cannot
be reached, a fetch is refused (503), as the replay check refuses it.

Without Redis (the memory or database replay store) nothing is kept: other processes on the same database (a
served demo and a `playbook run` beside it, replicas) could not be told of a change, so every fetch reads the
directory. Only a complete grant is kept (a subsystem, an active service, a live right): a refusal is read again
each time, so a registration is never hidden by an earlier miss. What a change made behind the exchange's back (SQL
typed into its database) leaves stale is read again after `MAX_AGE_SECONDS` at the latest.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.problems import ServiceUnavailable
from services.exchange.members.repository import FetchDirectory, fetch_directory

log = structlog.get_logger(__name__)

MAX_AGE_SECONDS = 10.0
MAX_ENTRIES = 10_000
TOKEN_TTL_SECONDS = 86_400  # a token unused for a day lapses; a lapsed one starts a new one, as a restart does
_monotonic = time.monotonic  # looked up at each use, so that a test can move it
# Where unqualified names resolve, the table the directory's rights are in: the database as the server itself names
# it, however a replica's URL spells the way there (a host name, an address, a socket).
_POSTGRES_IDENTITY = text("SELECT current_database(), 'access_rights'::regclass::oid")


class DirectoryUnavailable(ServiceUnavailable):
    """Redis, where the directory's token lives, did not answer: a fetch is refused (as the replay check would
    refuse it), and a directory write is saved but answers this until it is repeated and announced."""

    title = "The directory's state cannot be confirmed right now"
    type_slug = "exchange/directory-unavailable"
    code = "exchange.directory_unavailable"


def _new_token() -> str:
    return secrets.token_hex(16)


class RedisTokens:
    """The token in Redis, one key per database, shared by every replica on it."""

    def __init__(self, client: aioredis.Redis, engine: AsyncEngine) -> None:
        self._client = client
        self._engine = engine
        self._key: str | None = None
        if engine.dialect.name == "sqlite":  # the file itself (its device and inode), wherever it is reached from
            path = os.path.realpath(engine.url.database or "")
            found = os.stat(path) if os.path.exists(path) else None
            self._key = _key_for(f"sqlite:{found.st_dev}:{found.st_ino}" if found else f"sqlite:{path}")

    async def open(self) -> bool:
        """Name the key (asking the database which one it is) and check that Redis keeps nothing on disk; whether
        tokens can be trusted here."""
        if self._key is None:
            async with self._engine.connect() as connection:
                name, table = (await connection.execute(_POSTGRES_IDENTITY)).one()
            self._key = _key_for(f"{self._engine.dialect.name}:{name}:{table}")
        try:
            saves = (await self._client.config_get("save")).get("save", "")
            appends = (await self._client.config_get("appendonly")).get("appendonly", "")
        except RedisError as error:
            log.warning("exchange.directory_kept_off", reason="redis_config_unknown", error=type(error).__name__)
            return False
        if _text(saves).strip() or _text(appends).strip().lower() not in ("", "no"):
            # A Redis restarted from disk could bring back a token already replaced.
            log.warning("exchange.directory_kept_off", reason="redis_persists")
            return False
        return True

    @property
    def key(self) -> str:
        if self._key is None:
            raise RuntimeError("the directory's token is named when the exchange opens")
        return self._key

    async def current(self) -> str | None:
        """The token now, or None where there is none yet (nothing kept may then be used)."""
        try:
            token = await self._client.get(self.key)
            if token is None:  # never set, lapsed, or Redis restarted: a new one, and nothing kept is used now
                await self._client.set(self.key, _new_token(), nx=True, ex=TOKEN_TTL_SECONDS)
                return None
        except RedisError as error:
            raise DirectoryUnavailable("The exchange cannot confirm its directory right now; try again.") from error
        return _text(token)

    async def replace(self) -> None:
        """A new token: everything kept under the old one is stale, in every process."""
        try:
            await self._client.set(self.key, _new_token(), ex=TOKEN_TTL_SECONDS)
            return
        except RedisError:
            pass
        try:  # a Redis out of memory refuses the SET but not the DEL, and no token means nothing kept is used
            await self._client.delete(self.key)
        except RedisError as error:
            raise DirectoryUnavailable(
                "The change is saved, but the exchange's other processes could not be told of it: repeat the "
                "request, so that they are."
            ) from error


def _key_for(database: str) -> str:
    return "dpi:exchange-directory:" + hashlib.sha256(database.encode()).hexdigest()[:32]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class _Kept:
    token: str
    directory: FetchDirectory
    at: float  # _monotonic()


class DirectoryCache:
    """`fetch_directory` on `engine`, with what was read kept while the token in `redis` stays the same. Nothing is
    kept without Redis (other processes on the same database could not be told of a change), nor where `open` found
    it untrustworthy."""

    def __init__(self, engine: AsyncEngine, redis: aioredis.Redis | None) -> None:
        self._engine = engine
        self._tokens = None if redis is None else RedisTokens(redis, engine)
        self._kept: dict[tuple[str, str], _Kept] = {}
        self._opened = False

    async def open(self) -> None:
        """Name the token and check Redis (the exchange's lifespan does it at start, so that no write waits for it
        after its commit); done at the first use otherwise."""
        if not self._opened:
            if self._tokens is not None and not await self._tokens.open():
                self._tokens = None
            self._opened = True

    @property
    def keeps(self) -> bool:
        """Whether grants are kept between fetches (after `open`)."""
        return self._opened and self._tokens is not None

    async def fetch(self, client_id: str, service_id: str) -> FetchDirectory:
        await self.open()
        if self._tokens is None:
            return await fetch_directory(self._engine, client_id, service_id)
        token = await self._tokens.current()  # before the directory is read: a change after it replaces the token
        key = (client_id, service_id)
        kept = self._kept.get(key)
        now = _monotonic()
        if token is not None and kept is not None and kept.token == token and now - kept.at < MAX_AGE_SECONDS:
            return kept.directory
        directory = await fetch_directory(self._engine, client_id, service_id)
        if token is not None and _granted(directory):
            if len(self._kept) >= MAX_ENTRIES:
                self._kept.clear()
            self._kept[key] = _Kept(token, directory, now)
        return directory

    async def changed(self) -> None:
        """The directory changed (committed): nothing kept is used again, here or in any other process."""
        self._kept.clear()
        await self.open()
        if self._tokens is not None:
            await self._tokens.replace()


def _granted(directory: FetchDirectory) -> bool:
    return (
        directory.subsystem is not None
        and directory.service is not None
        and directory.service.status == "active"
        and directory.right is not None
    )

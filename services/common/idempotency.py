"""Idempotency-Key (one store per service): a retried POST gets the first answer back, byte for byte, and the work
is done once.

Records are keyed by (client, route, Idempotency-Key) and hold a fingerprint of the request (method, path, query
and body, the body in RFC 8785 canonical form when it is JSON), a state, and the stored response (status, the
headers that matter, the body bytes). For a request with a key:

- first time: the key is claimed (committed at once, on its own, so that others see it), the
  work runs in the request's transaction, and the response is stored *in that same transaction*: the work and its
  stored answer commit together or not at all;
- same key, same request, done: the stored response, byte for byte, with `Idempotent-Replayed: true`, whatever
  happened to the underlying records since (it is not a re-read of current state);
- same key, another request: 422 `common/idempotency-key-reused`;
- same key while the first is still in flight: 409 `common/idempotency-in-progress` (retry later);
- the work fails and rolls back: the claim is released, and a retry runs the work again. A refusal marked
  `commit_before_raise` (services.common.problems) is an answer that commits, so it is stored and replayed too.

A claim left behind by a crashed process is taken over after `in_flight_timeout`; the first process, should it
still finish, then finds its claim gone and rolls back rather than write twice. Records are kept for `retention`
(setting `idempotency_retention_seconds`) and purged as claims come in.

In a router (the dependency reads the key, the caller and the request; `run` does the rest):

    @router.post("/v1/payments", status_code=201, response_model=PaymentRead,
                 responses=problem_responses(*IDEMPOTENCY_ERRORS, InsufficientFunds))
    async def create_payment(
        body: PaymentCreate, session: SessionDep, caller: CallerDep, idempotency: IdempotencyRequired
    ) -> Response:
        return await idempotency.run(session, lambda: payment_service.create(session, caller, body), status_code=201)

`Idempotent` makes the header optional (without it the work just runs), `IdempotencyRequired` refuses a request
without one (422). Call `run` before anything touches the session: the claim must commit on its own. Services
whose responses hold personal data pass a `Protector` that seals stored bodies and keys the fingerprints.

A hot path on PostgreSQL may do better than claim, work and store: its work and the key's record, already done and
holding the answer, in one autocommitted statement of its own (`one_statement=`, see `OneStatementWork` and
`answer_insert`). That INSERT has no ON CONFLICT: a key taken before, or by a request still in flight (which it
waits for), fails the whole statement with a unique violation, so none of the work commits, and `run` then goes the
general way (claim, replay or refuse). Exactly once holds as before: whatever commits, commits with its answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Protocol

import rfc8785
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import BindParameter

from services.common.auth import CallerDep
from services.common.clock import Clock
from services.common.db import UTCDateTime, autocommit_connection, fetch_prepared
from services.common.ids import new_id
from services.common.jws import canonical_json
from services.common.problems import Conflict, InvalidInput, ProblemError, problem_response

TABLE_NAME = "idempotency_records"
KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Response headers worth replaying; everything else (date, request id, server timing) belongs to the retry.
STORED_HEADERS = ("content-type", "location", "etag", "www-authenticate", "retry-after")
DEFAULT_RETENTION = timedelta(hours=24)
DEFAULT_IN_FLIGHT_TIMEOUT = timedelta(seconds=60)
PURGE_EVERY = 500


class IdempotencyKeyReused(InvalidInput):
    title = "Idempotency-Key reused with a different request"
    type_slug = "common/idempotency-key-reused"
    code = "common.idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    title = "A request with this Idempotency-Key is in progress"
    type_slug = "common/idempotency-in-progress"
    code = "common.idempotency_in_progress"


class IdempotencyKeyRequired(InvalidInput):
    title = "Idempotency-Key header required"
    type_slug = "common/idempotency-key-required"
    code = "common.idempotency_key_required"


# For `responses=problem_responses(*IDEMPOTENCY_ERRORS, ...)` on every idempotent endpoint.
IDEMPOTENCY_ERRORS: tuple[type[ProblemError], ...] = (IdempotencyKeyReused, IdempotencyInProgress)


class State(StrEnum):
    in_flight = "in_flight"
    done = "done"


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        Column("client_id", String(200), primary_key=True),
        Column("route", String(200), primary_key=True),
        Column("idempotency_key", String(200), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("claim_id", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("headers", JSON, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("locked_until", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )


def _claim_statement(dialect: str, table: Table) -> Any:
    """The first claim of a key: INSERT ... ON CONFLICT DO NOTHING, its values named `v_<column>`.

    On PostgreSQL the claim commits without waiting for its WAL to reach the disk (`synchronous_commit` off for this
    one statement's transaction): it is a marker that other requests must see at once, and they do, as a commit's
    visibility does not wait for the flush; its durability adds nothing, since the work it guards commits later,
    synchronously, and that flush takes the claim's earlier WAL with it. Should the server crash before, no work
    was committed under the lost claim, and a retry claims the key again. Measured on this project's machine, a
    synchronous commit cost about 130 us of PostgreSQL CPU and 4 ms of waiting, an asynchronous one 20 us."""
    columns = list(table.c)
    if dialect != "postgresql":
        unanswered = ("status_code", "headers", "body")  # left NULL (through SQLAlchemy, None in JSON is 'null')
        named = {c.key: bindparam(f"v_{c.key}", type_=c.type) for c in columns if c.key not in unanswered}
        return sqlite.insert(table).values(named).on_conflict_do_nothing().returning(table.c.claim_id)
    row = select(*(bindparam(f"v_{column.key}", type_=column.type) for column in columns)).where(
        func.set_config("synchronous_commit", "off", True).is_not(None)
    )
    return postgresql.insert(table).from_select(columns, row).on_conflict_do_nothing().returning(table.c.claim_id)


# The parameters of `answer_insert`, typed (so asyncpg is told each one's type), for `text(...).bindparams(...)`.
ANSWER_BINDS: tuple[BindParameter[Any], ...] = (
    bindparam("i_stored", type_=Boolean()),
    bindparam("i_status_code", type_=Integer()),
    bindparam("i_headers", type_=JSON()),
    bindparam("i_body", type_=LargeBinary()),
    bindparam("i_created_at", type_=UTCDateTime()),
    bindparam("i_locked_until", type_=UTCDateTime()),
    bindparam("i_expires_at", type_=UTCDateTime()),
)


# The key's record, done, with its answer: the `answer_insert` CTE (the columns of `idempotency_table`).
_ANSWER_INSERT = """INSERT INTO idempotency_records (client_id, route, idempotency_key, fingerprint, claim_id, state,
                                 status_code, headers, body, created_at, locked_until, expires_at)
    SELECT :i_client_id, :i_route, :i_idempotency_key, :i_fingerprint, :i_claim_id, 'done', :i_status_code, :i_headers,
           :i_body, :i_created_at, :i_locked_until, :i_expires_at
    FROM @SOURCE WHERE :i_stored
    RETURNING claim_id"""
_ANSWER_COLUMNS = ("client_id", "route", "idempotency_key", "fingerprint", "claim_id", "status_code", "headers", "body",
                   "created_at", "locked_until", "expires_at")  # fmt: skip


def answer_insert(source: str) -> str:
    """The SQL of a data-modifying CTE for a hot path's own statement (`OneStatementWork`): the key's record, done,
    holding the answer, for the row of the CTE `source` (whose one row says the work was done), when the request has
    a key (`i_stored`). No ON CONFLICT, on purpose: a key already taken, or taken by a request still in flight (the
    INSERT waits for it), fails the whole statement with a unique violation, undoing the work it would have stored."""
    if not source.isidentifier():
        raise ValueError(f"not a CTE name: {source!r}")
    return _ANSWER_INSERT.replace("@SOURCE", source)


class Protector(Protocol):
    """How a service keeps request fingerprints and stored bodies (identity: keyed hashes, encrypted bodies)."""

    def fingerprint(self, material: bytes) -> str: ...

    def seal(self, body: bytes, *, context: str) -> bytes: ...

    def unseal(self, sealed: bytes, *, context: str) -> bytes: ...


class PlainProtector:
    """SHA-256 fingerprints and bodies stored as they are: for responses that hold no personal data."""

    def fingerprint(self, material: bytes) -> str:
        return hashlib.sha256(material).hexdigest()

    def seal(self, body: bytes, *, context: str) -> bytes:
        return body

    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        return sealed


@dataclass(frozen=True)
class Scope:
    client_id: str
    route: str
    key: str

    @property
    def context(self) -> str:
        return f"idempotency:{self.client_id}:{self.route}:{self.key}"


class IdempotencyStore:
    """The service's idempotency records (on `app.state.idempotency`, built by create_service_app)."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        clock: Clock,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        in_flight_timeout: timedelta = DEFAULT_IN_FLIGHT_TIMEOUT,
        protector: Protector | None = None,
        reused: type[IdempotencyKeyReused] = IdempotencyKeyReused,
        in_progress: type[IdempotencyInProgress] = IdempotencyInProgress,
    ) -> None:
        self.engine = engine
        self.table = table
        self.clock = clock
        self.retention = retention
        self.in_flight_timeout = in_flight_timeout
        self.protector: Protector = protector or PlainProtector()
        # A service that published its own problem types for these before keeps them (subclasses of the two).
        self.reused = reused
        self.in_progress = in_progress
        self._claims = 0
        self._claim_insert = _claim_statement(engine.dialect.name, table)

    def _pk(self, scope: Scope) -> Any:
        c = self.table.c
        return and_(c.client_id == scope.client_id, c.route == scope.route, c.idempotency_key == scope.key)

    async def claim(self, scope: Scope, fingerprint: str) -> str | Response:
        """Claim the key (a claim id to finish with) or the stored response to replay; raises 409/422."""
        now = self.clock.now()
        claim_id = new_id()
        c = self.table.c
        # Autocommitted on PostgreSQL: each statement below is atomic on its own (the takeover re-checks its
        # condition under the row lock) and no lock is held between them, so a transaction added nothing but a
        # BEGIN and a COMMIT round trip to every idempotent request. The first claim of a key, by far the most
        # common, is one prepared INSERT (services.common.db.fetch_prepared).
        values = {
            "client_id": scope.client_id,
            "route": scope.route,
            "idempotency_key": scope.key,
            "fingerprint": fingerprint,
            "claim_id": claim_id,
            "state": State.in_flight.value,
            "created_at": now,
            "locked_until": now + self.in_flight_timeout,
            "expires_at": now + self.retention,
        }
        unanswered = {"status_code": None, "headers": None, "body": None}  # a prepared INSERT names every column
        async with autocommit_connection(self.engine, autocommit=False) as conn:
            claim = {f"v_{name}": value for name, value in (values | unanswered).items()}
            claimed = bool(await fetch_prepared(conn, self._claim_insert, claim))
        await self.counted(now)
        if claimed:
            return claim_id
        async with autocommit_connection(self.engine) as conn:
            row = (await conn.execute(select(self.table).where(self._pk(scope)))).one_or_none()
            if row is not None and row.expires_at > now and row.fingerprint != fingerprint:
                raise self.reused(f"This {KEY_HEADER} was used with a different request.")
            if row is not None and row.expires_at > now and row.state == State.done.value:
                return self._replay(scope, row)
            # Gone, expired, or a claim abandoned past its timeout: take it over, if no one else does first.
            taken = await conn.execute(
                update(self.table)
                .where(
                    self._pk(scope),
                    or_(c.expires_at <= now, and_(c.state == State.in_flight.value, c.locked_until <= now)),
                )
                .values(**values)
            )
            if taken.rowcount == 1:
                return claim_id
        raise self.in_progress(f"A request with this {KEY_HEADER} is being processed; retry shortly.")

    async def counted(self, now: datetime) -> None:
        """Count a claim (or an answer stored with its work); every PURGE_EVERY, purge the expired records."""
        self._claims += 1
        if self._claims % PURGE_EVERY == 0:
            c = self.table.c
            async with autocommit_connection(self.engine) as conn:
                await conn.execute(delete(self.table).where(c.expires_at <= now, c.state == State.done.value))

    def answer_values(self, scope: Scope | None, fingerprint: str, response: Response) -> dict[str, Any]:
        """The parameters of `answer_insert` for `response` under `scope` (nothing is stored when it is None)."""
        now = self.clock.now()
        if scope is None:
            unstored: dict[str, Any] = {f"i_{column}": None for column in _ANSWER_COLUMNS}
            return unstored | {"i_stored": False}
        return {
            "i_stored": True, "i_client_id": scope.client_id, "i_route": scope.route, "i_idempotency_key": scope.key,
            "i_fingerprint": fingerprint, "i_claim_id": new_id(), "i_status_code": response.status_code,
            "i_headers": _stored_headers(response),
            "i_body": self.protector.seal(bytes(response.body), context=scope.context), "i_created_at": now,
            "i_locked_until": now + self.in_flight_timeout, "i_expires_at": now + self.retention,
        }  # fmt: skip

    async def finish(self, session: AsyncSession, scope: Scope, claim_id: str, response: Response) -> None:
        """Store `response` under the claim, in the request's transaction (so it commits with the work)."""
        headers = _stored_headers(response)
        stored = await session.execute(
            update(self.table)
            .where(self._pk(scope), self.table.c.claim_id == claim_id, self.table.c.state == State.in_flight.value)
            .values(
                state=State.done.value,
                status_code=response.status_code,
                headers=headers,
                body=self.protector.seal(bytes(response.body), context=scope.context),
            )
        )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            # Our claim timed out and another request took the key over: roll back rather than do the work twice.
            raise self.in_progress(f"A request with this {KEY_HEADER} is being processed; retry shortly.")

    async def release(self, scope: Scope, claim_id: str) -> None:
        """Give the key back after a failure that rolled the work back, so a retry runs it again."""
        c = self.table.c
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(self.table).where(self._pk(scope), c.claim_id == claim_id, c.state == State.in_flight.value)
            )

    def _replay(self, scope: Scope, row: Any) -> Response:
        body = self.protector.unseal(row.body, context=scope.context)
        headers = {**(row.headers or {}), REPLAYED_HEADER: "true"}
        return Response(content=body, status_code=row.status_code, headers=headers)


def _stored_headers(response: Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name in STORED_HEADERS}


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> bytes:
    """What makes two requests "the same": method, path, query and the body (canonical if it is JSON)."""
    try:
        canonical = canonical_json(json.loads(body)) if body else b""
    except (ValueError, rfc8785.CanonicalizationError):
        canonical = body
    return b"\n".join((method.encode(), path.encode(), query.encode(), canonical))


Work = Callable[[], Awaitable[BaseModel | Response]]
# The parameters of `answer_insert` that store a response under the request's key (or store nothing without one).
Answer = Callable[[Response], dict[str, Any]]
# The work and its stored answer in one autocommitted statement (a hot path on PostgreSQL), tried before any claim:
# its response, the statement having committed both; or None, having committed nothing (the work did not apply, or
# the statement failed with a unique violation: a key or an id already taken), and the general way then runs.
OneStatementWork = Callable[[Answer], Awaitable[Response | None]]
Headers = Mapping[str, str] | Callable[[Any], Mapping[str, str]]


class Idempotency:
    """One request's view of the store: `run` the work once per key (see the module docstring)."""

    def __init__(self, request: Request, store: IdempotencyStore, scope: Scope | None, material: bytes) -> None:
        self._request = request
        self._store = store
        self.scope = scope
        self._material = material

    async def run(
        self,
        session: AsyncSession,
        work: Work,
        *,
        status_code: int = 200,
        headers: Headers | None = None,
        one_statement: OneStatementWork | None = None,
    ) -> Response:
        """The work's result as a response (stored under the key), or the stored response of an earlier run.

        `headers` are added to a success: a mapping, or a function of the result (e.g. its Location).
        `one_statement`, if given, is tried first, before any claim (see `OneStatementWork`)."""
        if one_statement is not None and (response := await self._one_statement(one_statement)) is not None:
            return response
        if self.scope is None:
            return _render(await work(), status_code, headers)
        if session.in_transaction():
            raise RuntimeError("claim the Idempotency-Key before the session is used: the claim commits on its own")
        claim = await self._store.claim(self.scope, self._store.protector.fingerprint(self._material))
        if isinstance(claim, Response):
            return claim
        try:
            response = _render(await work(), status_code, headers)
        except ProblemError as refusal:
            if not refusal.commit_before_raise:
                await self._abandon(session, claim)
                raise
            response = problem_response(
                self._request,
                refusal.status,
                refusal.to_problem(instance=self._request.url.path, request_id=_request_id(self._request)),
                refusal.headers,
            )
        except BaseException:
            await self._abandon(session, claim)
            raise
        await self._store.finish(session, self.scope, claim, response)
        return response

    async def _one_statement(self, one_statement: OneStatementWork) -> Response | None:
        store, scope = self._store, self.scope
        fingerprint = store.protector.fingerprint(self._material) if scope is not None else ""
        response = await one_statement(lambda answer: store.answer_values(scope, fingerprint, answer))
        if response is not None and scope is not None:
            await store.counted(store.clock.now())
        return response

    async def _abandon(self, session: AsyncSession, claim_id: str) -> None:
        assert self.scope is not None
        # Rolled back first: on SQLite the session holds the one connection the release needs.
        await session.rollback()
        await self._store.release(self.scope, claim_id)


def _render(result: BaseModel | Response, status_code: int, headers: Headers | None) -> Response:
    if isinstance(result, Response):
        return result
    extra = headers(result) if callable(headers) else headers
    # The renderer FastAPI itself uses for a response model, so the bytes are what the client would have got.
    return JSONResponse(result.model_dump(mode="json"), status_code=status_code, headers=dict(extra or {}))


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


KeyHeader = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Same key and same request: the first response again, without doing the work twice. Same key "
        "with another request: 422. While the first is still running: 409.",
    ),
]


def _dependency(*, required: bool) -> Callable[..., Awaitable[Idempotency]]:
    async def dependency(request: Request, caller: CallerDep, key: KeyHeader = None) -> Idempotency:
        store: IdempotencyStore = request.app.state.idempotency
        if key is None:
            if required:
                raise IdempotencyKeyRequired(f"This operation needs an {KEY_HEADER} header (any unique string).")
            return Idempotency(request, store, None, b"")
        route = getattr(request.scope.get("route"), "path", request.url.path)
        scope = Scope(client_id=caller.client_id, route=f"{request.method} {route}", key=key)
        material = request_fingerprint(request.method, request.url.path, request.url.query, await request.body())
        return Idempotency(request, store, scope, material)

    return dependency


Idempotent = Annotated[Idempotency, Depends(_dependency(required=False))]
IdempotencyRequired = Annotated[Idempotency, Depends(_dependency(required=True))]

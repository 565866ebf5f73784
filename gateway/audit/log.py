"""The audit log: group-committed appends into a Merkle tree kept in the gateway's database, signed checkpoints,
proofs, the in-sandbox witness and the subject view.

Every `append` encodes its event and joins the pending batch; one writer task per process sends the batches, at most
two in flight: while one commits, the next is numbered and hashed, and waits behind it. A batch's transaction locks
the tree head row (PostgreSQL's row lock; SQLite's single write lock, taken by BEGIN IMMEDIATE), moves the head,
inserts the events with their leaf and interior hashes, and commits. Only then is each of its callers answered.

The lock on the head row is what makes indexes gap-free and unique, also across gateway processes sharing one
PostgreSQL database. A batch numbered while the one before it commits assumes the head that batch will leave (its
size and root). Its first statement waits for the head row's lock, moves the head if it is exactly that head and
returns the head; if another process or a failed batch got in between, the head is left as it was and the batch is
numbered again from the head as stored, still under the lock. Indexes are final only under the lock, from the head
the lock protects; the numbering done ahead of it saves the work under the lock, it never decides an index.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy import BigInteger, LargeBinary, Table, and_, bindparam, case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit.events import AppendedEvent, AuditEvent, encode_event, leaf_from_record
from gateway.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hashes,
)
from gateway.audit.models import AuditTables
from gateway.audit.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    NoteSigner,
    VerifierKey,
    load_or_create_note_signer,
)
from gateway.audit.repository import AuditRepository, MissingNode, SearchFilter, StoredEntry
from gateway.audit.schemas import (
    AuditEntry,
    CheckpointView,
    ConsistencyProofView,
    InclusionProofView,
    ProvedEntry,
    SubjectAccessLog,
)
from gateway.audit.witness import Verdict, Witness, WitnessState, with_cosignatures
from services.common.clock import Clock
from services.common.ids import new_id

log = structlog.get_logger("gateway.audit")
HEAD_ID = 1


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


# An event encoded as it is appended (outside any lock): its id, its canonical record bytes, its distinct rule ids,
# the rest of its row (time, sub, actor, action, decision, disclose_after), and the future its caller awaits (None
# for `append_many`). One flat tuple per append: every object that lives until the batch commits is work for the
# garbage collector, a thousand in flight at a time.
_Prepared = tuple[
    str, bytes, tuple[str, ...], datetime, str | None, str, str, str, datetime | None,
    asyncio.Future[AppendedEvent] | None,
]  # fmt: skip
PIPELINE = 2  # batches in flight: one committing, the next waiting behind it for the head
SPLIT = 64  # with nothing in flight and at least twice this many waiting, half go first and half right behind


@dataclass(slots=True)
class _Plan:
    """A batch numbered from leaf `start` of the tree whose root is `root_before`: each event's leaf, leaf hash and
    completed interior nodes, and the tree after it (its compact range and root)."""

    start: int
    root_before: bytes
    batch: Sequence[_Prepared]
    leaves: list[bytes]
    hashes: list[bytes]
    nodes: list[bytes]
    tree: Frontier
    root: bytes

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The batch's rows, in the events table's column order, made one at a time as the bulk insert takes them:
        a thousand rows built ahead would be a thousand more objects for the garbage collector to walk."""
        for index, p, leaf, hashed, node in zip(count(self.start), self.batch, self.leaves, self.hashes, self.nodes):
            yield index, p[0], leaf, hashed, node, p[3], p[4], p[5], p[6], p[7], p[8]

    def rule_rows(self) -> Iterator[tuple[str, int]]:
        return ((rule, index) for index, p in enumerate(self.batch, self.start) for rule in p[2])


def plan_batch(batch: Sequence[_Prepared], tree: Frontier, root: bytes) -> _Plan:
    """Number `batch` from the end of `tree` (whose root is `root`; the tree itself is not changed) and hash it in:
    each leaf, its hash, the interior nodes it completes. The hot loop of the log, in comprehensions."""
    start = tree.size
    after = tree.copy()
    leaves = [leaf_from_record(index, prepared[1]) for index, prepared in enumerate(batch, start)]
    hashes = leaf_hashes(leaves)
    nodes = after.extend(hashes)
    return _Plan(start, root, batch, leaves, hashes, nodes, after, after.root())


# The head a batch leaves once committed: the tree (a compact range) and its root.
_Head = tuple[Frontier, bytes]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def entry_view(entry: StoredEntry) -> AuditEntry:
    leaf = entry.leaf.decode()
    return AuditEntry(index=entry.index, event_id=entry.event_id, record=json.loads(leaf)["record"], leaf=leaf)


class AuditLog:
    """Append-only Merkle log. `append` is safe to call from any number of concurrent tasks and processes."""

    _loop: asyncio.AbstractEventLoop  # the loop `start` ran in, whose futures the batched appends answer

    def __init__(
        self,
        engine: AsyncEngine,
        tables: AuditTables,
        clock: Clock,
        *,
        signer: NoteSigner,
        witness: Witness | None = None,
        batched: bool = True,
        max_batch: int = 2000,
        checkpoint_interval: float = 0.0,
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.clock = clock
        self.signer = signer
        self.origin = signer.name
        self.witness = witness
        self.batched = batched
        self.max_batch = max_batch
        self.checkpoint_interval = checkpoint_interval
        self._pending: list[_Prepared] = []
        head = tables.head
        self._lock_head = select(head.c.size, head.c.root, head.c.frontier).where(head.c.id == HEAD_ID)
        self._lock_head = self._lock_head.with_for_update()
        moved = {
            "size": bindparam("new_size", type_=BigInteger),
            "root": bindparam("new_root", type_=LargeBinary),
            "frontier": bindparam("new_frontier", type_=LargeBinary),
        }
        self._set_head = update(head).where(head.c.id == HEAD_ID).values(moved)
        # Move the head if it is the one expected, else leave it as it is; either way the row is locked, and the
        # head returned. The condition is in SET, not WHERE: PostgreSQL filters WHERE on the row as of the
        # statement's snapshot, and only a row that passes it waits for the row lock and is re-read, so a WHERE
        # naming the size the batch ahead is about to commit would match nothing instead of waiting for it.
        expected = and_(head.c.size == bindparam("old_size"), head.c.root == bindparam("old_root"))
        self._move_head = (
            update(head)
            .where(head.c.id == HEAD_ID)
            .values({name: case((expected, value), else_=head.c[name]) for name, value in moved.items()})
            .returning(head.c.size, head.c.root, head.c.frontier)
        )
        self._wake = asyncio.Event()
        # Each batch in flight, oldest first, as the future of the head it will leave: set once its transaction
        # holds the head (None if it failed first). The batch behind it numbers its events from that head.
        self._in_flight: list[asyncio.Future[_Head | None]] = []
        self._last: _Head | None = None  # the head as this process last committed it: where its next batch starts
        self._batches: set[asyncio.Task[None]] = set()
        self._writer: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def log_key(self) -> VerifierKey:
        return self.signer.verifier

    # ---- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._ensure_head()
        if self.batched:
            self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")
        if self.checkpoint_interval > 0:
            self._publisher = asyncio.create_task(self._publish_loop(), name="audit-checkpoints")

    async def stop(self) -> None:
        self._closed = True
        self._wake.set()
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
            self._publisher = None
        if self._writer is not None:
            await self._writer
            self._writer = None

    # ---- appending -------------------------------------------------------------------------------------------

    def append(self, event: AuditEvent) -> Awaitable[AppendedEvent]:
        """Record `event`: await the result, which comes once the event is committed, with its id and leaf index.

        A plain method returning the caller's future (no coroutine of its own around it: this runs for every
        request the gateway decides). Cancelling that future abandons the answer, not the append."""
        if self._closed:
            raise RuntimeError("the audit log is stopped")
        if self._writer is None:
            return self._append_one(self._prepare(event, None))
        future: asyncio.Future[AppendedEvent] = self._loop.create_future()
        self._pending.append(self._prepare(event, future))
        self._wake.set()
        return future

    async def _append_one(self, prepared: _Prepared) -> AppendedEvent:
        (appended,) = _answers(await self._write_batch([prepared]))
        return appended

    async def append_many(self, events: Sequence[AuditEvent]) -> list[AppendedEvent]:
        """Record several events in one transaction (imports, tests, benchmarks)."""
        return _answers(await self._write_batch([self._prepare(event, None) for event in events]))

    def _prepare(self, event: AuditEvent, future: asyncio.Future[AppendedEvent] | None) -> _Prepared:
        event_id = event.event_id or new_id("evt")
        time = event.time or self.clock.now()
        rules = event.rule_ids
        distinct = rules if len(rules) < 2 else tuple(dict.fromkeys(rules))
        record = encode_event(event, event_id, time)
        return (event_id, record, distinct, time, event.sub, event.actor, event.action, event.decision,
                event.disclose_after, future)  # fmt: skip

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and len(self._in_flight) < PIPELINE:
                self._send_batch()
            if self._closed and not self._pending and not self._in_flight:
                return

    def _send_batch(self) -> None:
        """Take the next batch from the pending events and start its transaction behind the one in flight."""
        size = min(self.max_batch, len(self._pending))
        if not self._in_flight and size >= 2 * SPLIT:
            size = (size + 1) // 2
        batch, self._pending = self._pending[:size], self._pending[size:]
        behind = self._in_flight[-1] if self._in_flight else None
        leaves: asyncio.Future[_Head | None] = self._loop.create_future()
        self._in_flight.append(leaves)
        task = asyncio.create_task(self._run_batch(batch, behind, leaves), name="audit-batch")
        self._batches.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._batches.discard)

    async def _run_batch(
        self, batch: list[_Prepared], behind: asyncio.Future[_Head | None] | None, leaves: asyncio.Future[_Head | None]
    ) -> None:
        try:
            try:
                committed = await self._write_batch(batch, behind=behind, leaves=leaves, from_last=True)
            except IntegrityError:  # one event's id was taken (ids can come from callers): retry one by one
                _settle(leaves, None)
                await self._write_singly(batch)
                return
            except Exception as error:  # every caller of the batch learns that its event was not recorded
                log.error("audit batch failed", size=len(batch), error=type(error).__name__)
                for prepared in batch:
                    if (future := prepared[9]) is not None and not future.done():
                        future.set_exception(error)
                return
            for index, prepared in enumerate(batch, committed.start):
                # A caller that gave up (cancelled) is not answered.
                if (future := prepared[9]) is not None and not future.done():
                    future.set_result(AppendedEvent(prepared[0], index))
        finally:
            _settle(leaves, None)
            self._in_flight.remove(leaves)
            self._wake.set()

    async def _write_singly(self, batch: list[_Prepared]) -> None:
        for prepared in batch:
            future = prepared[9]
            try:
                (result,) = _answers(await self._write_batch([prepared]))
            except Exception as error:
                if future is not None and not future.done():
                    future.set_exception(error)
            else:
                if future is not None and not future.done():
                    future.set_result(result)

    async def _write_batch(
        self,
        batch: list[_Prepared],
        *,
        behind: asyncio.Future[_Head | None] | None = None,
        leaves: asyncio.Future[_Head | None] | None = None,
        from_last: bool = False,
    ) -> _Plan:
        """Commit `batch` as the next leaves of the log; return how it was numbered.

        `behind` is the batch in flight ahead of this one: once its transaction holds the head, this batch numbers
        and hashes its events from the head that batch will leave, while that batch commits (with nothing ahead, from
        the head this process last committed, if `from_last`). That numbering is used only if the head, once this
        transaction holds it, is exactly the head expected; otherwise, and with nothing expected, the batch is
        numbered from the head as stored, under the lock. `leaves` is set once this transaction holds the head, to
        the head it will leave."""
        expected = await behind if behind is not None else self._last if from_last else None
        plan = None if expected is None else plan_batch(batch, *expected)
        t = self.tables
        async with self.engine.begin() as conn:
            if plan is None:
                head = (await conn.execute(self._lock_head)).one()
            else:
                head = (await conn.execute(self._move_head, _head_values(plan, expected=True))).one()
            # Not the head the plan leaves: not moved (a head with the same root would be these very leaves).
            if plan is None or (head.size, head.root) != (plan.tree.size, plan.root):
                plan = plan_batch(batch, Frontier.from_bytes(head.size, head.frontier), head.root)
                await conn.execute(self._set_head, _head_values(plan, expected=False))
            if leaves is not None:
                _settle(leaves, (plan.tree, plan.root))
            await bulk_insert(conn, t.events, plan.rows())
            if any(prepared[2] for prepared in batch):
                await bulk_insert(conn, t.rules, plan.rule_rows())
        if self._last is None or plan.tree.size > self._last[0].size:
            self._last = (plan.tree, plan.root)
        return plan

    async def _ensure_head(self) -> None:
        values = {"id": HEAD_ID, "size": 0, "root": EMPTY_ROOT, "frontier": b""}
        async with self.engine.begin() as conn:
            await conn.execute(_insert_ignore(conn, self.tables.head).values(**values))

    # ---- the head and checkpoints -----------------------------------------------------------------------------

    async def head(self) -> TreeHead:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(self.tables.head.c.size, self.tables.head.c.root))).one()
        return TreeHead(row.size, row.root)

    async def publish_checkpoint(self) -> CheckpointView:
        """Sign the current tree head as a checkpoint (if not yet signed), let the witness judge it, return it."""
        head = await self.head()
        note = self.signer.sign_note(Checkpoint(self.origin, head.size, head.root).text())
        async with self.engine.begin() as conn:
            values = {"size": head.size, "root": head.root, "note": note, "published_at": self.clock.now()}
            await conn.execute(_insert_ignore(conn, self.tables.checkpoints).values(**values))
        if self.witness is not None:
            await self.witness_checkpoint(self.witness, note)
        return await self.checkpoint(head.size)

    async def checkpoint(self, size: int | None = None) -> CheckpointView:
        """The checkpoint of exactly `size` (or the latest), with its cosignatures; publishes one if there is none."""
        async with self.engine.connect() as conn:
            repo = AuditRepository(conn, self.tables)
            found = await repo.latest_checkpoint() if size is None else await repo.checkpoint_at_least(size)
            if found is not None and (size is None or found[0] == size):
                cosignatures = (await repo.cosignatures([found[0]])).get(found[0], [])
                note = with_cosignatures(found[1], cosignatures)
                text = note[: note.index("\n\n") + 1]
                return CheckpointView(
                    size=found[0], root_hash=b64(Checkpoint.parse(text).root), note=note, log_key=str(self.log_key)
                )
        if size is not None:
            raise LookupError(f"no checkpoint of size {size}")
        return await self.publish_checkpoint()

    async def fresh_checkpoint(self, covering: int) -> CheckpointView:
        """The latest checkpoint, published anew if it does not yet cover leaf index `covering`."""
        latest = await self.checkpoint()
        if latest.size > covering:
            return latest
        return await self.publish_checkpoint()

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            try:
                head = await self.head()
                async with self.engine.connect() as conn:
                    latest = await AuditRepository(conn, self.tables).latest_checkpoint()
                if latest is None or latest[0] < head.size:
                    await self.publish_checkpoint()
            except Exception as error:  # the next round tries again; appends never wait for this
                log.error("audit checkpoint failed", error=type(error).__name__)

    # ---- witnesses ----------------------------------------------------------------------------------------------

    async def witness_checkpoint(self, witness: Witness, note: str) -> Verdict:
        """Run `witness` (whose state lives in this database) over a checkpoint note and record its verdict."""
        t = self.tables
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(
                _insert_ignore(conn, t.witness_state).values(witness=witness.name, size=-1, root=b"", note="")
            )
            row = (
                await conn.execute(
                    select(t.witness_state).where(t.witness_state.c.witness == witness.name).with_for_update()
                )
            ).one()
            previous = None if row.size < 0 else WitnessState(row.size, row.root, row.note)
            checkpoint_size = _claimed_size(note)
            proof: list[bytes] = []
            if previous is not None and checkpoint_size is not None:
                try:
                    proof = await self.consistency_on(conn, *sorted((checkpoint_size, previous.size)))
                except (MissingNode, ValueError):
                    proof = []
            verdict = witness.observe(note, proof, previous, timestamp=int(now.timestamp()))
            size = verdict.checkpoint.size if verdict.checkpoint else (checkpoint_size or 0)
            if verdict.cosignature is not None and verdict.checkpoint is not None:
                await conn.execute(
                    _insert_ignore(conn, t.cosignatures).values(
                        witness=witness.name, size=size, signature=verdict.cosignature, signed_at=now
                    )
                )
                await conn.execute(
                    update(t.witness_state)
                    .where(t.witness_state.c.witness == witness.name)
                    .values(size=size, root=verdict.checkpoint.root, note=note)
                )
            elif verdict.refusal is not None:
                await self._record_refusal(conn, witness.name, size, note=note, reason=verdict.refusal, now=now)
        if verdict.refusal is not None:
            log.warning("audit witness refused a checkpoint", witness=witness.name, size=size)
        return verdict

    async def record_verdict(
        self, witness: str, size: int, note: str, *, cosignature: str | None, refusal: str | None
    ) -> None:
        """Store what an outside witness (`dpi-sandbox audit witness`) decided about one of our checkpoints."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            if cosignature is not None:
                await conn.execute(
                    _insert_ignore(conn, self.tables.cosignatures).values(
                        witness=witness, size=size, signature=cosignature, signed_at=now
                    )
                )
            if refusal is not None:
                await self._record_refusal(conn, witness, size, note=note, reason=refusal, now=now)

    async def _record_refusal(
        self, conn: AsyncConnection, witness: str, size: int, *, note: str, reason: str, now: datetime
    ) -> None:
        await conn.execute(
            insert(self.tables.refusals).values(
                id=new_id("ref"), witness=witness, size=size, note=note, reason=reason, refused_at=now
            )
        )

    # ---- proofs -----------------------------------------------------------------------------------------------

    async def inclusion(self, index: int, size: int) -> InclusionProofView:
        async with self.engine.connect() as conn:
            repo = AuditRepository(conn, self.tables)
            nodes = await repo.nodes(inclusion_nodes(index, size) | {(0, index)})
        proof = inclusion_proof(index, size, lambda level, i: nodes[(level, i)])
        return InclusionProofView(
            index=index, tree_size=size, leaf_hash=b64(nodes[(0, index)]), proof=[b64(h) for h in proof]
        )

    async def consistency(self, old: int, new: int) -> ConsistencyProofView:
        async with self.engine.connect() as conn:
            proof = await self.consistency_on(conn, old, new)
        return ConsistencyProofView(old_size=old, new_size=new, proof=[b64(h) for h in proof])

    async def consistency_on(self, conn: AsyncConnection, old: int, new: int) -> list[bytes]:
        nodes = await AuditRepository(conn, self.tables).nodes(consistency_nodes(old, new))
        return consistency_proof(old, new, lambda level, i: nodes[(level, i)])

    # ---- reading ----------------------------------------------------------------------------------------------

    async def search(self, where: SearchFilter, *, before: int | None, limit: int) -> list[AuditEntry]:
        async with self.engine.connect() as conn:
            entries = await AuditRepository(conn, self.tables).search(where, before=before, limit=limit)
        return [entry_view(e) for e in entries]

    async def get(self, *, index: int | None = None, event_id: str | None = None) -> AuditEntry | None:
        async with self.engine.connect() as conn:
            entry = await AuditRepository(conn, self.tables).entry(index=index, event_id=event_id)
        return None if entry is None else entry_view(entry)

    async def refusals(self, *, limit: int = 100) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return await AuditRepository(conn, self.tables).refusals(limit=limit)

    async def entries_for_subject(self, sub: str, now: datetime) -> SubjectAccessLog:
        """A person's entries, newest first, each with an inclusion proof against the latest checkpoint.

        Entries deferred by a court order (`disclose_after` later than `now`, SG-ACCESS-2) stay in the tree and in
        the count of withheld entries, but are not shown until then.
        """
        async with self.engine.connect() as conn:
            stored = await AuditRepository(conn, self.tables).subject_entries(sub)
        visible = [entry for entry, disclose_after in stored if disclose_after is None or disclose_after <= now]
        withheld = len(stored) - len(visible)
        checkpoint = await self.fresh_checkpoint(max((e.index for e in visible), default=-1))
        size = checkpoint.size
        wanted = set().union(*(inclusion_nodes(e.index, size) for e in visible)) if visible else set()
        async with self.engine.connect() as conn:
            nodes = await AuditRepository(conn, self.tables).nodes(wanted)
        entries = [
            ProvedEntry(
                **entry_view(e).model_dump(),
                tree_size=size,
                inclusion_proof=[b64(h) for h in inclusion_proof(e.index, size, lambda lv, i: nodes[(lv, i)])],
            )
            for e in visible
        ]
        return SubjectAccessLog(entries=entries, withheld=withheld, checkpoint=checkpoint)


def create_audit_log(engine: AsyncEngine, tables: AuditTables, clock: Clock, settings: Any) -> AuditLog:
    """The gateway's log: its Ed25519 checkpoint key and the in-sandbox witness's key under the keys directory."""
    keys_dir = settings.resolved_keys_dir
    signer = load_or_create_note_signer(keys_dir, "audit-log", settings.audit_origin)
    witness = None
    if settings.audit_witness:
        witness_signer = load_or_create_note_signer(
            keys_dir, "audit-witness", f"{settings.audit_origin}/witness", alg=ALG_COSIGNATURE_V1
        )
        witness = Witness(witness_signer, signer.verifier, settings.audit_origin)
    return AuditLog(
        engine,
        tables,
        clock,
        signer=signer,
        witness=witness,
        max_batch=settings.audit_max_batch,
        checkpoint_interval=settings.audit_checkpoint_seconds,
    )


async def bulk_insert(conn: AsyncConnection, table: Table, rows: Iterable[Sequence[Any]]) -> None:
    """Insert many rows (values in the table's column order) in the current transaction: COPY on PostgreSQL
    (asyncpg's binary copy, one round trip), executemany elsewhere. Plain inserts either way: constraints and
    indexes apply as to any INSERT."""
    columns = [c.name for c in table.columns]
    if conn.dialect.name != "postgresql":
        await conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        await driver.copy_records_to_table(table.name, records=rows, columns=columns)
    except asyncpg.IntegrityConstraintViolationError as error:  # as SQLAlchemy reports it for an INSERT
        raise IntegrityError(f"COPY {table.name}", None, error) from error


def _answers(plan: _Plan) -> list[AppendedEvent]:
    return [AppendedEvent(prepared[0], index) for index, prepared in enumerate(plan.batch, plan.start)]


def _head_values(plan: _Plan, *, expected: bool) -> dict[str, Any]:
    values = {"new_size": plan.tree.size, "new_root": plan.root, "new_frontier": plan.tree.to_bytes()}
    if expected:
        values |= {"old_size": plan.start, "old_root": plan.root_before}
    return values


def _settle(future: asyncio.Future[_Head | None], head: _Head | None) -> None:
    if not future.done():
        future.set_result(head)


def _claimed_size(note: str) -> int | None:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else None


def _insert_ignore(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()

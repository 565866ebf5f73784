"""The audit log: group-committed appends into a Merkle tree kept in the gateway's database, signed checkpoints,
proofs, the in-sandbox witness and the subject view.

Every `append` joins the pending batch; one writer task per process takes the whole batch, locks the tree head row
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's single write lock, taken by BEGIN IMMEDIATE), numbers the events
from the head's size, inserts them with their leaf and interior hashes, moves the head and commits. Only then is
each caller answered. The lock on the head row is what makes indexes gap-free and unique across gateway processes
sharing one PostgreSQL database: a second process's batch waits for the first to commit and continues from its size.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit.events import AppendedEvent, AuditEvent, encode_record, leaf_from_record
from gateway.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
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


# An event encoded before it joins a batch (outside the head lock, while the previous batch commits): the event, its
# id, its canonical record bytes, its time and its distinct rule ids. A tuple: one is built per append.
_Prepared = tuple[AuditEvent, str, bytes, datetime, tuple[str, ...]]
_Pending = tuple[_Prepared, asyncio.Future[AppendedEvent]]


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
        self._pending: list[_Pending] = []
        self._lock_head = select(tables.head.c.size, tables.head.c.frontier).where(tables.head.c.id == HEAD_ID)
        self._lock_head = self._lock_head.with_for_update()
        self._wake = asyncio.Event()
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
        prepared = self._prepare(event)
        if self._writer is None:
            return self._append_one(prepared)
        future: asyncio.Future[AppendedEvent] = self._loop.create_future()
        self._pending.append((prepared, future))
        self._wake.set()
        return future

    async def _append_one(self, prepared: _Prepared) -> AppendedEvent:
        (appended,) = await self._write_batch([prepared])
        return appended

    async def append_many(self, events: Sequence[AuditEvent]) -> list[AppendedEvent]:
        """Record several events in one transaction (imports, tests, benchmarks)."""
        return await self._write_batch([self._prepare(event) for event in events])

    def _prepare(self, event: AuditEvent) -> _Prepared:
        event_id = event.event_id or new_id("evt")
        time = event.time or self.clock.now()
        rules = event.rule_ids
        distinct = rules if len(rules) < 2 else tuple(dict.fromkeys(rules))
        return event, event_id, encode_record(event.record(event_id, time)), time, distinct

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    results = await self._write_batch([prepared for prepared, _ in batch])
                except IntegrityError:  # one event's id was taken (ids can come from callers): retry one by one
                    await self._write_singly(batch)
                    continue
                except Exception as error:  # every caller of the batch learns that its event was not recorded
                    log.error("audit batch failed", size=len(batch), error=type(error).__name__)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # a caller that gave up (cancelled) is not answered
                        future.set_result(result)
                # Let the callers just answered run (and, under load, append again) before taking the next batch.
                await asyncio.sleep(0)
            if self._closed and not self._pending:
                return

    async def _write_singly(self, batch: list[_Pending]) -> None:
        for prepared, future in batch:
            try:
                (result,) = await self._write_batch([prepared])
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)

    async def _write_batch(self, batch: list[_Prepared]) -> list[AppendedEvent]:
        t = self.tables
        async with self.engine.begin() as conn:
            head = (await conn.execute(self._lock_head)).one()
            frontier = Frontier.from_bytes(head.size, head.frontier)
            append = frontier.append
            rows: list[tuple[Any, ...]] = []  # in EVENT_COLUMNS order
            rule_rows: list[tuple[str, int]] = []
            results: list[AppendedEvent] = []
            index = head.size
            # The hot loop of every batch (run under the head lock): the leaf, its hash, the interior nodes it
            # completes, its row.
            for event, event_id, record, time, rules in batch:
                leaf = leaf_from_record(index, record)
                hashed = leaf_hash(leaf)
                rows.append(
                    (index, event_id, leaf, hashed, b"".join(append(hashed)), time, event.sub, event.actor,
                     event.action, event.decision, event.disclose_after)
                )  # fmt: skip
                for rule in rules:
                    rule_rows.append((rule, index))
                results.append(AppendedEvent(event_id, index))
                index += 1
            await bulk_insert(conn, t.events, rows)
            if rule_rows:
                await bulk_insert(conn, t.rules, rule_rows)
            await conn.execute(
                update(t.head)
                .where(t.head.c.id == HEAD_ID)
                .values(size=frontier.size, root=frontier.root(), frontier=frontier.to_bytes())
            )
        return results

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


async def bulk_insert(conn: AsyncConnection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
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


def _claimed_size(note: str) -> int | None:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else None


def _insert_ignore(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()

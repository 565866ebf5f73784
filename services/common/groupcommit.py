"""Group commit: requests that arrive while a batch is being committed wait, and go together in the next batch.

A request whose write must be durable before it is answered pays for a commit (on PostgreSQL the WAL flush, and a
round trip). Under concurrency most of that can be shared: `GroupCommit` hands the items submitted in one process
to `write`, which commits a whole batch in one transaction, and answers each caller only once its batch has
committed (or failed). With nothing else waiting a batch is one item and goes at once (no timer, no added delay);
while a batch is in flight the next one gathers. At most `in_flight` batches are written at the same time.

    permits = GroupCommit(take_uses, max_batch=64, name="consent-permits")
    row = await permits.submit(question)   # returns once the batch holding it is committed
    await permits.drain()                  # at shutdown: wait for the batches in flight

`write(items)` returns one outcome per item, in order: the item's answer, or an exception, which that item's caller
then raises (so one bad item need not fail the others). If `write` raises, every caller of the batch raises that
error. A caller cancelled while it waits does not cancel the batch the others are in. Across processes nothing is
shared: each process groups its own requests, and the database keeps concurrent batches correct as it keeps
concurrent single requests (row locks, conditional updates).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class GroupCommit(Generic[Item, Answer]):
    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Answer | BaseException]]],
        *,
        max_batch: int,
        name: str,
        in_flight: int = 1,
    ) -> None:
        if max_batch < 1 or in_flight < 1:
            raise ValueError("max_batch and in_flight must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._name = name
        self._pending: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._batches: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: Item) -> Answer:
        """Hand `item` to the next batch; its answer once that batch has committed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a group of another event loop (an app reused after its loop ended) serves nobody
            self._loop, self._pending, self._batches = loop, [], set()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending.append((item, future))
        if len(self._batches) < self._in_flight:
            self._start()
        # Shielded: a caller cancelled while it waits does not cancel the batch the others are in.
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait until every batch in flight, and every item waiting for one, has been written."""
        while self._batches:
            await asyncio.wait(list(self._batches))

    def _start(self) -> None:
        task = asyncio.get_running_loop().create_task(self._run(), name=self._name)
        self._batches.add(task)  # the loop keeps only a weak reference to a task

    async def _run(self) -> None:
        """Write batches while items wait; the items are taken when the task runs, so those submitted meanwhile
        (in the same turn of the loop, or while the batch before committed) go together."""
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                await self._write_one(batch)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._batches.discard(task)

    async def _write_one(self, batch: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        try:
            outcomes = await self._write([item for item, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{self._name}: {len(outcomes)} outcomes for a batch of {len(batch)}")
        except Exception as error:  # every caller of the batch learns that its write did not happen
            for _, future in batch:
                _settle(future, error)
            return
        except BaseException:  # cancelled (shutdown): nobody may wait for a batch that will not be written
            for _, future in batch + self._pending:
                future.cancel()
            self._pending = []
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[Answer], outcome: Answer | BaseException) -> None:
    if future.done():  # its caller's loop is gone
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


__all__ = ["GroupCommit"]

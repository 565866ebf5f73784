"""Group commit (services.common.groupcommit): items submitted while a batch is written go together in the next one,
each caller answered only once its batch is written, with its own outcome or its batch's error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.common.groupcommit import GroupCommit


class Writer:
    """Records each batch it is given; holds a batch until `release` is set, so that others gather meanwhile."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.in_write = asyncio.Event()
        self.fail_with: Exception | None = None

    async def __call__(self, items: Sequence[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(items))
        self.in_write.set()
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


async def test_one_item_alone_goes_at_once_and_those_arriving_meanwhile_go_together() -> None:
    writer = Writer()
    group: GroupCommit[int, int] = GroupCommit(writer, max_batch=3, name="test")
    assert await group.submit(2) == 20
    writer.release.clear()
    writer.in_write.clear()
    first = asyncio.ensure_future(group.submit(0))
    await writer.in_write.wait()  # the batch of one is being written; these gather behind it
    rest = [asyncio.ensure_future(group.submit(item)) for item in (4, 6, 8, 10)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in [first, *rest])  # nobody is answered before their batch is written
    writer.release.set()
    assert await asyncio.gather(first, *rest) == [0, 40, 60, 80, 100]
    assert writer.batches == [[2], [0], [4, 6, 8], [10]]  # at most max_batch each, in the order submitted
    await group.drain()


async def test_each_caller_gets_its_own_outcome_and_a_failed_batch_fails_all_its_callers() -> None:
    writer = Writer()
    group: GroupCommit[int, int] = GroupCommit(writer, max_batch=10, name="test")
    answers = await asyncio.gather(*(group.submit(item) for item in (2, 3, 4)), return_exceptions=True)
    assert answers[0] == 20 and answers[2] == 40
    assert isinstance(answers[1], ValueError) and str(answers[1]) == "odd 3"
    writer.fail_with = RuntimeError("the database is gone")
    failed = await asyncio.gather(*(group.submit(item) for item in (6, 8)), return_exceptions=True)
    assert [str(error) for error in failed] == ["the database is gone"] * 2
    writer.fail_with = None
    assert await group.submit(6) == 60  # the group writes on after a failed batch


async def test_a_cancelled_caller_does_not_cancel_its_batch() -> None:
    writer = Writer()
    writer.release.clear()
    group: GroupCommit[int, int] = GroupCommit(writer, max_batch=10, name="test")
    leaving = asyncio.ensure_future(group.submit(2))
    await writer.in_write.wait()
    staying = asyncio.ensure_future(group.submit(4))
    await asyncio.sleep(0)
    leaving.cancel()
    writer.release.set()
    assert await staying == 40
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert writer.batches == [[2], [4]]  # the cancelled caller's item was still written, once


async def test_drain_waits_for_the_batches_in_flight_and_the_items_behind_them() -> None:
    writer = Writer()
    writer.release.clear()
    group: GroupCommit[int, int] = GroupCommit(writer, max_batch=1, name="test", in_flight=2)
    tasks = [asyncio.ensure_future(group.submit(item)) for item in (2, 4, 6)]
    for _ in range(5):  # the callers submit, then the batches start
        await asyncio.sleep(0)
    assert len(writer.batches) == 2  # two batches written at once, the third item waits for one of them
    writer.release.set()
    await group.drain()
    assert all(task.done() for task in tasks) and writer.batches == [[2], [4], [6]]


def test_batches_and_in_flight_are_at_least_one() -> None:
    with pytest.raises(ValueError):
        GroupCommit(Writer(), max_batch=0, name="test")

"""Background loops inside a service process (the outbox relay, timers): how they repeat and how they end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog

log = structlog.get_logger(__name__)


class RepeatingTask:
    """Runs `work` every `interval` seconds (sooner when woken) until stopped; an error is logged, never fatal.

    The first round runs at once, or after one interval with `wait_first` (a timer with nothing to catch up on).
    """

    def __init__(
        self,
        work: Callable[[], Awaitable[object]],
        *,
        interval: float,
        name: str,
        failure_event: str,
        wait_first: bool = False,
    ) -> None:
        self._work = work
        self._interval = interval
        self._name = name
        self._failure_event = failure_event
        self._wait_first = wait_first
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Run the next round now rather than at the end of the interval."""
        self._wake.set()

    async def _run(self) -> None:
        if self._wait_first:
            await self._pause()
        while not self._stopping:
            try:
                await self._work()
            except Exception:
                log.exception(self._failure_event)
            await self._pause()

    async def _pause(self) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
        self._wake.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Let the current round finish (cancelling mid-query would strand a database connection), then stop."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await finish_or_cancel(self._task)
            self._task = None


async def finish_or_cancel(task: asyncio.Task[None], *, grace_seconds: float = 10) -> None:
    """Wait for a loop that was asked to stop to finish its current round; cancel it only if it will not.

    Cancelling in the middle of a query would strand its database connection, so cancelling is the last resort.
    """
    try:
        await asyncio.wait_for(task, timeout=grace_seconds)  # cancels the task when the grace runs out
    except TimeoutError:
        with suppress(asyncio.CancelledError):
            await task

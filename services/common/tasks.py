"""Background loops inside a service process (the outbox relay, timers): how they end."""

from __future__ import annotations

import asyncio
from contextlib import suppress


async def finish_or_cancel(task: asyncio.Task[None], *, grace_seconds: float = 10) -> None:
    """Wait for a loop that was asked to stop to finish its current round; cancel it only if it will not.

    Cancelling in the middle of a query would strand its database connection, so cancelling is the last resort.
    """
    try:
        await asyncio.wait_for(task, timeout=grace_seconds)  # cancels the task when the grace runs out
    except TimeoutError:
        with suppress(asyncio.CancelledError):
            await task

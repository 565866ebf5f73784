"""Rate limits per client and per route: fixed windows on the injected clock, counted atomically.

A client has one budget over all routes (`rate_limit_per_client`) and one per route prefix in `rate_limit_routes`
(the longest matching prefix). Each request increments both counters of the current window in one atomic step:
in the process (memory, exact while one process serves the gateway) or in Redis (`INCR` inside MULTI/EXEC, exact
for any number of replicas). A request over either budget gets 429 problem+json with `Retry-After` (the seconds
until the window ends). Where Redis cannot be reached the request is refused with 503, never let through uncounted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.auth.errors import RateLimited
from services.common.clock import Clock
from services.common.problems import ServiceUnavailable


class Counter(Protocol):
    async def increment(self, keys: Sequence[str], ttl_seconds: int) -> list[int]:
        """Add one to each key (created with `ttl_seconds` to live); the new counts, in order."""
        ...


class MemoryCounter:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window: str | None = None

    async def increment(self, keys: Sequence[str], ttl_seconds: int) -> list[int]:
        # Keys end with the window number; a new window drops the old counts (no await: atomic on the event loop).
        window = keys[0].rsplit(":", 1)[-1] if keys else None
        if window != self._window:
            self._counts = {k: v for k, v in self._counts.items() if k.endswith(":" + str(window))}
            self._window = window
        results = []
        for key in keys:
            self._counts[key] = self._counts.get(key, 0) + 1
            results.append(self._counts[key])
        return results


class RedisCounter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def increment(self, keys: Sequence[str], ttl_seconds: int) -> list[int]:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.incr(key)
                    pipe.expire(key, ttl_seconds, nx=True)
                replies = await pipe.execute()
        except RedisError as error:
            raise ServiceUnavailable("The rate-limit store cannot be reached right now; try again shortly.") from error
        return [int(reply) for reply in replies[::2]]


class RateLimits:
    def __init__(
        self,
        counter: Counter,
        clock: Clock,
        *,
        window_seconds: int,
        per_client: int,
        routes: Mapping[str, int],
        namespace: str = "dpi:rate",
    ) -> None:
        self._counter = counter
        self._clock = clock
        self._window = window_seconds
        self._per_client = per_client
        self._routes = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)
        self._namespace = namespace

    def route_of(self, path: str) -> tuple[str, int] | None:
        for prefix, limit in self._routes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return prefix, limit
        return None

    async def check(self, client_id: str, path: str) -> None:
        now = self._clock.now().timestamp()
        window = int(now // self._window)
        retry_after = max(1, int((window + 1) * self._window - now + 0.999))
        limits = [("*", self._per_client)]
        route = self.route_of(path)
        if route is not None:
            limits.append(route)
        keys = [f"{self._namespace}:{client_id}:{prefix}:{window}" for prefix, _ in limits]
        counts = await self._counter.increment(keys, self._window * 2)
        for (prefix, limit), count in zip(limits, counts, strict=True):
            if count > limit:
                where = "over all routes" if prefix == "*" else f"on {prefix}"
                raise RateLimited(
                    f"This client may make {limit} requests {where} every {self._window} s; try again in "
                    f"{retry_after} s.",
                    retry_after=retry_after,
                )

"""Shared by the benchmark scripts: the machine they ran on, timing loops and the printed table."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * page_size / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def row(self) -> str:
        return (
            f"| {self.name} | {self.count} | {self.per_second:,.0f} | {self.percentile(0.50):.2f} | "
            f"{self.percentile(0.99):.2f} |"
        )


HEADER = "| what | n | per second | p50 ms | p99 ms |\n|---|---|---|---|---|"


async def measure(name: str, operation: Callable[[], Awaitable[object]], *, count: int, concurrency: int) -> Result:
    """Run `operation` `count` times with `concurrency` in flight; latency of each call, throughput overall."""
    latencies: list[float] = []
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await operation()
            latencies.append(time.perf_counter() - started)

    for _ in range(min(20, count)):  # warm-up: connection pools, caches, JIT-less but lazy imports
        await operation()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, count, time.perf_counter() - started, latencies)


def measure_sync(name: str, operation: Callable[[], object], *, count: int) -> Result:
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        operation()
        latencies.append(time.perf_counter() - t0)
    return Result(name, count, time.perf_counter() - started, latencies)


POSTGRES_URL = os.environ.get("DPI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    """Whether PostgreSQL answers; where it does not, scripts leave out its rows and say so."""
    from services.common.db import create_engine, ping

    engine = create_engine(url)
    try:
        await ping(engine)
    except Exception:
        return False
    finally:
        await engine.dispose()
    return True


async def drop_postgres_schema(schema: str, url: str = POSTGRES_URL) -> None:
    """Drop a benchmark's own schema and everything in it, so that a run starts from nothing."""
    from sqlalchemy import text

    from services.common.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def vacuum_if_autovacuum_off(url: str, schema: str, tables: Sequence[str] | None = None) -> bool:
    """Where PostgreSQL's autovacuum is off (as on the machines this project is tested on), do its work on `tables`
    of `schema` (None: every table in it) before the timed rows, as it would have done between runs; whether it
    did."""
    from sqlalchemy import text

    from services.common.db import create_engine

    engine = create_engine(url, schema=schema)
    try:
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            if (await connection.execute(text("SHOW autovacuum"))).scalar_one() == "on":
                return False
            if tables is None:
                listed = text("SELECT tablename FROM pg_tables WHERE schemaname = :schema")
                tables = list((await connection.execute(listed, {"schema": schema})).scalars())
            for table in tables:
                await connection.execute(text(f'VACUUM (ANALYZE) "{schema}"."{table}"'))
    finally:
        await engine.dispose()
    return True


REDIS_URL = os.environ.get("DPI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_reachable(url: str = REDIS_URL) -> bool:
    """Whether Redis answers; where it does not, scripts leave out (or replace) its rows and say so."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


def bare_app() -> Any:
    """The baseline every HTTP row is compared with: FastAPI doing nothing but answering."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smoke-size run (under a minute), same figures")
    return parser.parse_args()


def report(title: str, results: list[Result], notes: list[str]) -> None:
    print(f"## {title}\n")
    print(f"Machine: {machine()}\n")
    print(HEADER)
    for result in results:
        print(result.row())
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    print(flush=True)

"""Foundation costs: what the gateway assertion and the in-process gateway add to a request.

Baseline: a bare FastAPI endpoint in the same run. Then a service's public /healthz, a protected endpoint with a
fresh assertion (mint + verify + replay check, in memory and in the service's SQLite database), and the same
endpoint reached through the embedded gateway. All requests go through httpx's ASGI transport (no sockets), so
the figures are application cost per request on one core, not network throughput.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi import Request

from benchmarks._common import (
    POSTGRES_URL,
    REDIS_URL,
    arguments,
    bare_app,
    drop_postgres_schema,
    measure,
    measure_sync,
    postgres_reachable,
    redis_reachable,
    report,
)
from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from gateway.auth.caller import AuthenticatedCaller
from services.common.assertion import (
    AssertionMinter,
    AssertionVerifier,
    CallContext,
    MemoryReplayGuard,
    StaticJwks,
)
from services.common.clock import SystemClock
from services.common.keys import SigningKey
from services.common.migrations import upgrade_service_database
from services.common.settings import ReplayStore
from services.identity.app import MIGRATIONS_DIR
from services.identity.app import create_app as create_identity
from services.identity.config import IdentitySettings

BENCH_SCHEMA = f"bench_foundation_identity_{os.getpid()}"  # concurrent runs must not drop each other's schema


class TrustingAuthenticator:
    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        return AuthenticatedCaller(client_id="bench", roles=("relying_party",))


async def main(quick: bool) -> None:
    count = 400 if quick else 5000
    concurrency = 8
    clock = SystemClock()
    key = SigningKey.generate()
    minter = AssertionMinter(key, clock)
    context = CallContext(client_id="bench", roles=("relying_party",), purpose="BENCH")
    results = []

    results.append(measure_sync("assertion mint (ES256 sign)", lambda: minter.mint("identity", context), count=count))
    verifier = AssertionVerifier(
        audience="identity", jwks=StaticJwks(key.jwks()), clock=clock, replay_guard=MemoryReplayGuard(clock)
    )
    tokens = [minter.mint("identity", context) for _ in range(count + 20)]
    iterator = iter(tokens)
    results.append(await measure("assertion verify (ES256 + checks)", lambda: verifier.verify(next(iterator)),
                                 count=count, concurrency=1))  # fmt: skip

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app()), base_url="http://bare") as bare:
        results.append(await measure("baseline: bare FastAPI GET", lambda: bare.get("/ping"), count=count,
                                     concurrency=concurrency))  # fmt: skip

    with tempfile.TemporaryDirectory() as scratch:
        var_dir = Path(scratch)
        await upgrade_all(all_settings(var_dir))
        variants: list[tuple[ReplayStore, dict[str, Any]]] = [
            (ReplayStore.memory, {}),
            (ReplayStore.database, {}),
            (ReplayStore.database, {"database_pool_size": 5}),  # the baseline for db.py's one-connection choice
        ]
        if await redis_reachable():
            variants.append((ReplayStore.redis, {"redis_url": REDIS_URL}))
        if await postgres_reachable():
            await drop_postgres_schema(BENCH_SCHEMA)
            variants.append((ReplayStore.database, {"database_url": POSTGRES_URL, "database_schema": BENCH_SCHEMA}))
        for store, database in variants:
            settings = IdentitySettings(var_dir=var_dir, replay_store=store, log_level="WARNING", **database)
            if "database_url" in database:
                await upgrade_service_database(settings, MIGRATIONS_DIR)
            backend = "PostgreSQL" if "database_url" in database else "SQLite"
            if "database_pool_size" in database:
                backend += f", {database['database_pool_size']} pooled connections"
            app = create_identity(settings, clock=clock, gateway_jwks=StaticJwks(key.jwks()))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
                    if store is ReplayStore.memory:
                        results.append(await measure("service GET /healthz (public)", lambda: client.get("/healthz"),
                                                     count=count, concurrency=concurrency))  # fmt: skip

                    async def protected() -> None:
                        headers = {"X-Gateway-Assertion": minter.mint("identity", context)}
                        response = await client.get("/v1/caller", headers=headers)
                        assert response.status_code == 200, response.text

                    label = f"service GET /v1/caller, replay store {store.value}"
                    if store is ReplayStore.database:
                        label += f" ({backend})"
                    results.append(await measure(label, protected,
                                                 count=count, concurrency=concurrency))  # fmt: skip

        quiet = {name: {"log_level": "WARNING"} for name in ("gateway", "identity", "payments", "consent", "exchange")}
        gateway = build_embedded(var_dir=var_dir, overrides=quiet, authenticator=TrustingAuthenticator())
        async with gateway.router.lifespan_context(gateway):
            transport = httpx.ASGITransport(app=gateway)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

                async def through_gateway() -> None:
                    response = await client.get("/identity/v1/caller")
                    assert response.status_code == 200, response.text

                results.append(await measure("gateway -> identity /v1/caller (embedded)", through_gateway,
                                             count=count, concurrency=concurrency))  # fmt: skip

    report(
        "Foundation: assertion and gateway overhead" + (" (--quick)" if quick else ""),
        results,
        [
            f"{count} operations per row, {concurrency} in flight for HTTP rows; one process, one event loop.",
            "HTTP rows use httpx.ASGITransport: no sockets, so this is application cost, not network throughput.",
            "The gateway row includes minting the assertion, proxying, and the service verifying it.",
            "Replay store: memory is exact for one process per service (embedded, multi-process); database and "
            "Redis are for replicas: the first costs a write transaction per request, the second a Redis round trip "
            "(the distributed mode's choice). The Redis row is missing where Redis does not answer.",
        ],
    )


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

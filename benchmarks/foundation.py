"""Foundation costs: what the gateway assertion and the in-process gateway add to a request.

Baseline: a bare FastAPI endpoint in the same run. Then a service's public /healthz, a protected endpoint with a
fresh assertion (mint + verify + replay check, in memory and in the service's SQLite database), and the same
endpoint reached through the embedded gateway. All requests go through httpx's ASGI transport (no sockets), so
the figures are application cost per request on one core, not network throughput.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi import FastAPI, Request

from benchmarks._common import arguments, measure, measure_sync, report
from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from services.common.assertion import (
    AssertionMinter,
    AssertionVerifier,
    CallContext,
    MemoryReplayGuard,
    StaticJwks,
)
from services.common.clock import SystemClock
from services.common.keys import SigningKey
from services.common.settings import ReplayStore
from services.identity.app import create_app as create_identity
from services.identity.config import IdentitySettings


class TrustingAuthenticator:
    async def authenticate(self, request: Request) -> CallContext:
        return CallContext(client_id="bench", roles=("relying_party",))


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


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
        for store in (ReplayStore.memory, ReplayStore.database):
            settings = IdentitySettings(var_dir=var_dir, replay_store=store)
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

                    results.append(await measure(f"service GET /v1/caller, replay store {store.value}", protected,
                                                 count=count, concurrency=concurrency))  # fmt: skip

        gateway = build_embedded(var_dir=var_dir, authenticator=TrustingAuthenticator())
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
        ],
    )


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

"""The gateway's token endpoint as deployed: OAuth 2.0 client credentials, each request with a fresh private_key_jwt
assertion, served by one uvicorn worker per core on PostgreSQL, next to the durable floor of the same run.

Each request: the client's ES256 assertion verified against its registered key (the registration cached by the
worker for `client_cache_seconds`, as deployed), its `jti` recorded once (the only thing stored), the rate limit
counted, and an ES256 access token (RFC 9068) signed. Rows:
- the durable floor (benchmarks/_floor.py): one select by key among a million rows and one insert, committed;
- tokens with the database replay store (the jti is a committed row: durable, shared by every replica);
- tokens with the Redis replay store (shared by every replica, not durable across a Redis restart);
- the same with a DPoP proof per request (a DPoP-bound token: one more ES256 verification and one more jti).
Target: the durable row at >= 0.6x the durable floor. Assertions and proofs are signed before the clock starts, as
the clients would have.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    POSTGRES_URL,
    REDIS_URL,
    Result,
    arguments,
    drop_postgres_schema,
    postgres_reachable,
    redis_reachable,
    report,
)
from benchmarks._floor import ROWS as FLOOR_ROWS
from benchmarks._floor import prepare as prepare_floor
from benchmarks._http import Load, drive, http_request, json_request, serve
from gateway.auth.clients.models import ClientKind
from gateway.auth.clients.schemas import ClientCreate, Jwks
from gateway.auth.clients.service import registry
from gateway.config import GatewaySettings
from services.common import jws
from services.common.clock import SystemClock
from services.common.db import create_engine, create_sessionmaker
from services.common.keys import SigningKey
from services.common.migrations import upgrade_service_database
from services.common.settings import Environment, ReplayStore

IN_FLIGHT = 16
ROUNDS = 5
PORTS = 19_470  # away from the other benchmarks' 18080: several may run on one shared machine
WARMUP = 200
CLIENTS = 8
SCHEMA = "bench_gateway_token"
PUBLIC_URL = "http://bench"
TOKEN_URL = PUBLIC_URL + "/oauth2/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FACTORY = "gateway.app:create_app"
GATEWAY_MIGRATIONS = Path(__file__).resolve().parent.parent / "gateway" / "migrations"


def checked(load: Load, results: list[Result], notes: list[str], *, describe: bool = True) -> None:
    if failures := load.failures((200,)):
        raise SystemExit(
            f"{load.result.name}: {failures} unexpected responses {dict(load.statuses)}; first: {load.sample_failure}"
        )
    results.append(load.result)
    if load.cpu is not None and describe:
        notes.append(f"{load.result.name}: {load.cpu.describe()}.")


async def register_clients(settings: GatewaySettings) -> list[tuple[str, SigningKey]]:
    """Fresh schema, migrations, and CLIENTS approved relying parties with their keys."""
    await drop_postgres_schema(SCHEMA, POSTGRES_URL)
    await upgrade_service_database(settings, GATEWAY_MIGRATIONS)
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    clients = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            now = SystemClock().now()
            for index in range(CLIENTS):
                key = SigningKey.generate()
                client_id = f"bench-rp-{index}"
                body = ClientCreate(
                    client_id=client_id,
                    name=client_id,
                    kind=ClientKind.relying_party,
                    scopes=["identity"],
                    jwks=Jwks(keys=[key.public_jwk()]),
                    dpia_ref="D",
                    hria_ref="H",
                )
                await registry.register(session, body, registered_by="bench", now=now, jwks_uri_allowlist=[])
                await registry.approve(session, client_id, approved_by="bench", now=now)
                clients.append((client_id, key))
    finally:
        await engine.dispose()
    return clients


def token_requests(clients: list[tuple[str, SigningKey]], count: int, *, dpop: bool) -> list[bytes]:
    now = int(SystemClock().now().timestamp())
    requests = []
    for index in range(count):
        client_id, key = clients[index % len(clients)]
        assertion = jws.sign_claims(
            key,
            {
                "iss": client_id,
                "sub": client_id,
                "aud": TOKEN_URL,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
        )
        form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if dpop:
            public = {k: v for k, v in key.public_jwk().items() if k in ("kty", "crv", "x", "y")}
            claims = {"htm": "POST", "htu": TOKEN_URL, "iat": now, "jti": uuid.uuid4().hex}
            headers["DPoP"] = jws.sign_claims(key, claims, typ="dpop+jwt", headers={"jwk": public})
        requests.append(http_request("POST", "/oauth2/token", headers=headers, body=urlencode(form).encode()))
    return requests


def gateway_env(scratch: Path, replay_store: ReplayStore) -> dict[str, str]:
    return {
        "DPI_GATEWAY_ENVIRONMENT": Environment.test.value,  # no demo clients
        "DPI_GATEWAY_VAR_DIR": str(scratch),
        "DPI_GATEWAY_DATABASE_URL": POSTGRES_URL,
        "DPI_GATEWAY_DATABASE_SCHEMA": SCHEMA,
        "DPI_GATEWAY_REPLAY_STORE": replay_store.value,
        "DPI_GATEWAY_REDIS_URL": REDIS_URL,
        "DPI_GATEWAY_PUBLIC_URL": PUBLIC_URL,
        "DPI_GATEWAY_RATE_LIMIT_PER_CLIENT": "100000000",
        "DPI_GATEWAY_RATE_LIMIT_ROUTES": "{}",
        "DPI_GATEWAY_LOG_LEVEL": "WARNING",
        # DPoP proofs are signed before the row starts, as the assertions are; a row may take a minute or more.
        "DPI_GATEWAY_DPOP_PROOF_MAX_AGE_SECONDS": "300",
    }


def floor_requests(count: int, rows: int, rng: random.Random) -> list[bytes]:
    return [json_request("POST", "/floor", {"sub": f"sub_{rng.randint(1, rows)}"}) for _ in range(count)]


def interleaved(
    clients: list[tuple[str, SigningKey]], scratch: Path, workers: int, operations: int, rows: int, notes: list[str]
) -> list[Result]:
    """The durable floor and durable token issuance, both served at once, driven in turns (ROUNDS each), so that
    the load other work puts on a shared machine falls on both alike; the median round of each is kept."""
    rng = random.Random(11)
    per_round = operations // ROUNDS
    floors: list[Result] = []
    tokens: list[Result] = []
    loads: dict[int, Load] = {}
    floor_env = {"DPI_BENCH_FLOOR_URL": POSTGRES_URL}
    with (
        serve("benchmarks._floor:floor_app", env=floor_env, workers=workers, ready_path="/ping", port=PORTS) as floor,
        serve(FACTORY, env=gateway_env(scratch, ReplayStore.database), workers=workers, port=PORTS + 10) as gateway,
    ):
        drive("warm-up", floor, floor_requests(WARMUP, rows, rng), concurrency=IN_FLIGHT)
        drive("warm-up", gateway, token_requests(clients, WARMUP, dpop=False), concurrency=IN_FLIGHT)
        for round_number in range(ROUNDS):
            load = drive(f"floor round {round_number}", floor, floor_requests(per_round, rows, rng),
                         concurrency=IN_FLIGHT)  # fmt: skip
            checked(load, floors, notes, describe=False)
            loads[id(load.result)] = load
            load = drive(f"token round {round_number}", gateway, token_requests(clients, per_round, dpop=False),
                         concurrency=IN_FLIGHT)  # fmt: skip
            checked(load, tokens, notes, describe=False)
            loads[id(load.result)] = load
    floor_row, token_row = _median(floors), _median(tokens)
    floor_row.name = f"baseline: durable floor (select + insert + commit, PostgreSQL), {workers} workers, median round"
    token_row.name = (
        f"POST /oauth2/token: client credentials + private_key_jwt, database replay store (durable), {workers} "
        "workers, median round"
    )
    for row in (floor_row, token_row):
        cpu = loads[id(row)].cpu
        if cpu is not None:
            notes.append(f"{row.name}: {cpu.describe()}.")
    ratios = sorted(t.per_second / f.per_second for f, t in zip(floors, tokens, strict=True))
    spread = ", ".join(f"{f.per_second:,.0f}/{t.per_second:,.0f}" for f, t in zip(floors, tokens, strict=True))
    notes.append(f"{ROUNDS} rounds of {per_round} requests each, floor then tokens, per second: {spread}.")
    ratio = ratios[len(ratios) // 2]
    notes.append(
        f"Durable token issuance at {ratio:.2f}x the durable floor (median of the rounds' ratios; target >= 0.6x): "
        f"{'met' if ratio >= 0.6 else 'NOT met'}."
    )
    return [floor_row, token_row]


def _median(results: list[Result]) -> Result:  # rounds are equal in size: the median by rate
    ordered = sorted(results, key=lambda r: r.per_second)
    return ordered[len(ordered) // 2]


async def main(quick: bool) -> None:
    global WARMUP, ROUNDS
    WARMUP, ROUNDS = (50, 3) if quick else (WARMUP, ROUNDS)
    operations = 1000 if quick else 10_000
    workers = os.cpu_count() or 1
    notes = [
        f"uvicorn (httptools, uvloop), {workers} gateway worker processes (one per core) on separate ports; the load "
        f"driver is another process on the same {workers} cores with {IN_FLIGHT} requests in flight. Load average "
        f"at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (on a machine shared with other work, "
        "figures vary from run to run).",
        f"{CLIENTS} registered, approved clients take turns; every request carries its own freshly signed "
        "private_key_jwt assertion (unique jti), signed before the clock starts.",
    ]
    results: list[Result] = []
    if not await postgres_reachable():
        notes.append(f"PostgreSQL at {POSTGRES_URL} was not reachable: nothing to measure.")
        report("Gateway token endpoint" + (" (--quick)" if quick else ""), results, notes)
        return
    rows = 100_000 if quick else FLOOR_ROWS
    await prepare_floor(POSTGRES_URL, rows)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        settings = GatewaySettings(
            _env_file=None, **{"var_dir": scratch, "database_url": POSTGRES_URL, "database_schema": SCHEMA}
        )
        clients = await register_clients(settings)
        results += interleaved(clients, scratch, workers, operations, rows, notes)
        stores = [ReplayStore.database] + ([ReplayStore.redis] if await redis_reachable() else [])
        for store in stores:
            with serve(FACTORY, env=gateway_env(scratch, store), workers=workers, port=PORTS + 20) as served:
                for dpop in (True,) if store is ReplayStore.database else (False, True):
                    requests = token_requests(clients, operations + WARMUP, dpop=dpop)
                    what = "client credentials + private_key_jwt" + (" + DPoP proof" if dpop else "")
                    load = drive(
                        f"POST /oauth2/token: {what}, {store.value} replay store, {workers} workers",
                        served,
                        requests[WARMUP:],
                        concurrency=IN_FLIGHT,
                        warmup=requests[:WARMUP],
                    )
                    checked(load, results, notes)
        if ReplayStore.redis not in stores:
            notes.append(f"Redis at {REDIS_URL} was not reachable: no Redis replay-store rows.")
    report("Gateway token endpoint, as deployed" + (" (--quick)" if quick else ""), results, notes)


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

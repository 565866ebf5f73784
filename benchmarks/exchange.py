"""The exchange at population scale, over real HTTP: consent-gated fetches through the exchange next to the same
provider call made directly, in the same run.

The simulated registries are loaded with a deterministic synthetic population first (1,000,000 people on
PostgreSQL and 20,000 on SQLite; with --quick 5,000 and 2,000) through the exchange's own bulk loader, kept between
runs in a schema named after the size. Then:
- direct: the social registry served alone under uvicorn, asked for a person's household fields with a request the
  exchange signed beforehand: what the provider costs by itself;
- through the exchange: the exchange served as deployed (uvicorn, the registries in-process behind it, one worker per
  core sharing the replay store in Redis), `POST /v1/fetch` for the same people and fields under a consent context
  the gateway signed beforehand: the gateway assertion and its replay check, the access right and legal-basis checks,
  the provider call (in-process without the HTTP layer, the provider verifying the exchange's signature), the field
  filter, the message log on both sides (two signed, chained entries; on PostgreSQL written by group commit, each
  chain's head signed once per batch) and the commit.
Both are served at once and asked in turn about the same people (`drive_paired`), at 16 in flight in blocks of 300
(the other server idle meanwhile) and then one at a time in blocks of 25: the rate ratio and the p50 overhead compare
rows measured over the same seconds.
Targets (docs/benchmarks.md): through the exchange at least 50% of the direct rate; p50 overhead under 2 ms.
Last, the auditor's side: the offline verifier (`LogVerifier`, what `dpi-sandbox exchange verify-log` runs) over a
log of fetches' entries written by the exchange's own chaining and signing code (20,000 entries; 2,000 with
--quick), next to its floor in the same run: the bare ES256 verification of the same signatures over the same bytes
(`cryptography`, no JWS parsing, no canonical form, no chain). What the verifier adds to the floor is its own work.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    POSTGRES_URL,
    REDIS_URL,
    Result,
    arguments,
    postgres_reachable,
    redis_reachable,
    report,
    vacuum_if_autovacuum_off,
)
from benchmarks._http import checked, drive_paired, http_request, json_request, serve
from services.common.assertion import ASSERTION_HEADER, AssertionMinter, CallContext
from services.common.clock import SystemClock
from services.common.db import create_engine, create_sessionmaker
from services.common.keys import SigningKey, b64url, b64url_decode, load_or_create_signing_key
from services.common.migrations import upgrade_service_database
from services.common.settings import ReplayStore
from services.exchange.app import MIGRATIONS_DIR
from services.exchange.config import ExchangeSettings
from services.exchange.members.builtin import SOCIAL_HOUSEHOLD_SERVICE
from services.exchange.messagelog.service import CHAINS, GENESIS, _chained
from services.exchange.messagelog.verify import LogVerifier
from services.exchange.population import loader
from services.exchange.population.generator import households, subject_ref
from services.exchange.registries.credential import CREDENTIAL_HEADER, ExchangeRequest, mint

SEED = 2026
IN_FLIGHT = 16
WARMUP = 100
PAIRED_WARMUP = 50
LOADED_BLOCK = 300
DIRECT_APP = "services.exchange.registries.app:create_app"
EXCHANGE_APP = "services.exchange.app:create_app"
CLIENT = "bench-benefits-agency"
PURPOSE = "BENEFIT_ELIGIBILITY_CHECK"
FIELDS = ["household_size", "income_band", "district", "children_under_5"]
# What a run updates, and so leaves dead rows in: each batch of the message log moves both heads, and the consumer's
# registration is made again. Every fetch finds the heads through their primary key, but a schema kept between runs
# on a server without autovacuum would otherwise carry every earlier run's dead heads.
UPDATED_TABLES = ("message_log_heads", "access_rights", "subsystems", "members")


async def populate(settings: ExchangeSettings, people: int) -> tuple[int, float]:
    """Load (or finish loading) the population into the registries; how many people, and the seconds it took."""
    await upgrade_service_database(settings, MIGRATIONS_DIR)
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
    sessions = create_sessionmaker(engine)
    started = time.perf_counter()
    clock = SystemClock()
    try:
        state = await loader.begin(sessions, seed=SEED, people=people, now=clock.now())
        if not state.complete:
            await loader.defer_constraints(sessions)
            batch: list[Any] = []
            for household in households(SEED, people, start_household=state.households_done):
                batch.append(household)
                if len(batch) == 2000:
                    async with sessions() as session, session.begin():
                        state = await loader.write_batch(session, batch, seed=SEED, now=clock.now(), progress=state)
                    batch = []
            if batch:
                async with sessions() as session, session.begin():
                    state = await loader.write_batch(session, batch, seed=SEED, now=clock.now(), progress=state)
            await loader.finish(sessions, seed=SEED, now=clock.now())
    finally:
        await engine.dispose()
    return people, time.perf_counter() - started


def env_for(settings: ExchangeSettings, replay_store: ReplayStore) -> dict[str, str]:
    env = {
        "DPI_EXCHANGE_VAR_DIR": str(settings.var_dir),
        "DPI_EXCHANGE_KEYS_DIR": str(settings.resolved_keys_dir),
        "DPI_EXCHANGE_DATABASE_URL": settings.resolved_database_url,
        "DPI_EXCHANGE_REPLAY_STORE": replay_store.value,
        "DPI_EXCHANGE_REDIS_URL": REDIS_URL,
        "DPI_EXCHANGE_LOG_LEVEL": "WARNING",
        "DPI_EXCHANGE_PURGE_INTERVAL_SECONDS": "0",
    }
    if settings.database_schema:
        env["DPI_EXCHANGE_DATABASE_SCHEMA"] = settings.database_schema
    return env


def register_consumer(port: int, minter: AssertionMinter) -> None:
    """The benefits agency as a member with a subsystem acting as CLIENT, granted the household fields."""
    import httpx

    admin = {ASSERTION_HEADER: minter.mint("exchange", CallContext(client_id="bench-admin", roles=("exchange_admin",)))}
    base = f"http://127.0.0.1:{port}"
    httpx.post(
        f"{base}/v1/members", json={"member_class": "GOV", "code": "BENCH", "name": "Bench agency"}, headers=admin
    )
    admin = {ASSERTION_HEADER: minter.mint("exchange", CallContext(client_id="bench-admin", roles=("exchange_admin",)))}
    httpx.post(
        f"{base}/v1/members/SBX:GOV:BENCH/subsystems",
        headers=admin,
        json={"code": "benefits", "client_id": CLIENT, "processing_location": "SB"},
    )
    admin = {ASSERTION_HEADER: minter.mint("exchange", CallContext(client_id="bench-admin", roles=("exchange_admin",)))}
    response = httpx.put(
        f"{base}/v1/services/{SOCIAL_HOUSEHOLD_SERVICE}/access-rights",
        headers=admin,
        json={"client_subsystem_id": "SBX:GOV:BENCH:benefits", "fields": FIELDS, "purposes": [PURPOSE]},
    )
    response.raise_for_status()


def fetches(minter: AssertionMinter, subs: list[str]) -> list[bytes]:
    body = {"service": SOCIAL_HOUSEHOLD_SERVICE, "fields": FIELDS}
    requests = []
    for n, sub in enumerate(subs):
        context = CallContext(
            client_id=CLIENT,
            roles=("relying_party",),
            subject_ref=sub,
            purpose=PURPOSE,
            legal_basis="consent",
            consent_id=f"cns_bench_{n}",
            consented_items=tuple(FIELDS),
            decision_id=f"dec_bench_{n}",
            processing_location="SB",
        )
        requests.append(
            json_request("POST", "/v1/fetch", body, headers={ASSERTION_HEADER: minter.mint("exchange", context)})
        )
    return requests


def direct_calls(key: Any, subs: list[str]) -> list[bytes]:
    clock = SystemClock()
    query = "&".join(f"fields={f}" for f in FIELDS)
    requests = []
    for n, sub in enumerate(subs):
        credential = mint(
            key,
            clock,
            ExchangeRequest(
                client="SBX:GOV:BENCH:benefits",
                service=SOCIAL_HOUSEHOLD_SERVICE,
                purpose=PURPOSE,
                fields=FIELDS,
                message_id=f"msg_bench_{n}",
            ),
        )
        requests.append(
            http_request("GET", f"/social/v1/persons/{sub}/household?{query}", headers={CREDENTIAL_HEADER: credential})
        )
    return requests


async def run_backend(
    label: str,
    settings: ExchangeSettings,
    *,
    people: int,
    workers: int,
    operations: int,
    replay_store: ReplayStore,
    notes: list[str],
) -> list[Result]:
    loaded, seconds = await populate(settings, people)
    notes.append(f"{label}: {loaded:,} people in the registries ({seconds:,.1f} s to load or confirm).")
    schema = settings.database_schema
    if schema and await vacuum_if_autovacuum_off(settings.resolved_database_url, schema, UPDATED_TABLES):
        vacuumed = ", ".join(UPDATED_TABLES)
        notes.append(f"{label}: the server runs with autovacuum off, so the script vacuumed {vacuumed} first.")
    keys_dir = settings.resolved_keys_dir
    gateway_key = load_or_create_signing_key(keys_dir, "gateway")  # the served exchange trusts gateway.jwks.json
    exchange_key = load_or_create_signing_key(keys_dir, "exchange")  # what the direct calls are signed with
    minter = AssertionMinter(gateway_key, SystemClock())
    rng = random.Random(7)
    single = max(50, operations // 5)  # the one-at-a-time rows, where the p50 overhead is the exchange's own
    subs = [subject_ref(SEED, rng.randrange(people)) for _ in range(operations + WARMUP + PAIRED_WARMUP + single)]
    env = env_for(settings, replay_store)
    results: list[Result] = []
    # Both served at once, each as deployed, and asked in turn about the same people (`drive_paired`): at 16 in
    # flight in blocks of LOADED_BLOCK, the other server idle meanwhile; then one at a time in blocks of 25. Each
    # pair of rows shares the machine's moment, so their ratio and their p50 difference are the exchange's own work
    # rather than a drift between two runs a few seconds apart.
    with (
        serve(DIRECT_APP, env=env, workers=workers, ready_path="/openapi.json") as direct,
        serve(EXCHANGE_APP, env=env, workers=workers, port=18_090) as served,
    ):
        register_consumer(served.port, minter)
        loaded = subs[: WARMUP + operations]
        direct_loaded, exchange_loaded = drive_paired(
            (f"{label}: provider called directly (social registry household record), {workers} workers", direct,
             direct_calls(exchange_key, loaded)),
            (f"{label}: consent-gated fetch through the exchange, {workers} workers", served, fetches(minter, loaded)),
            concurrency=IN_FLIGHT,
            warmup=WARMUP,
            block=LOADED_BLOCK,
        )  # fmt: skip
        alone = subs[WARMUP + operations :]
        direct_alone, exchange_alone = drive_paired(
            (f"{label}: provider called directly, one at a time", direct, direct_calls(exchange_key, alone)),
            (f"{label}: consent-gated fetch through the exchange, one at a time", served, fetches(minter, alone)),
            warmup=PAIRED_WARMUP,
        )
    # Each path's loaded row, then its one-at-a-time row.
    direct_result, direct_single, exchange_result, exchange_single = (
        checked(load, (200,), results, notes) for load in (direct_loaded, direct_alone, exchange_loaded, exchange_alone)
    )
    ratio = exchange_result.per_second / direct_result.per_second
    overhead = exchange_single.percentile(0.5) - direct_single.percentile(0.5)
    queued = exchange_result.percentile(0.5) - direct_result.percentile(0.5)
    notes.append(
        f"{label}: through the exchange {ratio:.0%} of the direct rate (target ≥ 50%); p50 overhead one at a time "
        f"{overhead:.2f} ms (target < 2 ms); at {IN_FLIGHT} in flight, queue included, {queued:.2f} ms."
    )
    return results


def verification(entries: int, notes: list[str]) -> list[Result]:
    """The offline verifier over `entries` entries (half a fetch each), next to the bare ES256 verification of the
    same signatures: two rows, the floor first."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    key = SigningKey.generate()
    fetched = [
        {
            chain: {
                "message_id": f"msg_bench{n:012d}", "client": "SBX:GOV:BENCH:benefits",
                "service": SOCIAL_HOUSEHOLD_SERVICE, "client_id": CLIENT, "subject": subject_ref(SEED, n),
                "purpose": PURPOSE, "legal_basis": "consent", "consent_id": f"cns_{n}", "court_order_id": None,
                "decision_id": f"dec_{n}",
                "request_hash": f"{n:064x}", "response_hash": f"{n + 1:064x}", "status": 200, "fields_returned": FIELDS,
            }
            for chain in CHAINS
        }
        for n in range(entries // len(CHAINS))
    ]  # fmt: skip
    chained = _chained(fetched, {chain: (0, GENESIS) for chain in CHAINS}, key, datetime.now(UTC))
    rows = [{name: value for name, value in row.items() if name != "payload"} for row in chained.rows]
    public = key.private_key.public_key()
    signed = []
    for row in chained.rows:
        header, _, signature = row["signature"].split(".")
        raw = b64url_decode(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        signed.append((der, f"{header}.".encode() + b64url(row["payload"]).encode()))
    floor_latencies, latencies = [], []
    for der, data in signed:
        started = time.perf_counter()
        public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        floor_latencies.append(time.perf_counter() - started)
    rows.sort(key=lambda row: (row["chain"], row["seq"]))  # as the database reads them
    verifier = LogVerifier(chained.heads, key.jwks())
    for row in rows:
        started = time.perf_counter()
        verifier.feed(row)
        latencies.append(time.perf_counter() - started)
    outcome = verifier.finish()
    if not outcome.ok or outcome.entries != len(rows):
        raise SystemExit(f"the benchmark's own log does not verify: {outcome.findings[:3]}")
    floor, seconds = sum(floor_latencies), sum(latencies)
    notes.append(
        f"Offline verification: {len(rows):,} entries at {len(rows) / seconds:,.0f} entries/s, "
        f"{seconds / floor:.2f} times the bare ES256 verification of the same signatures; "
        f"1,000,000 fetches (2,000,000 entries) would take {2_000_000 * seconds / len(rows) / 60:,.1f} minutes."
    )
    return [
        Result(
            f"floor: bare ES256 verification of {len(rows):,} entries' signatures", len(rows), floor, floor_latencies
        ),
        Result(f"offline verification of the message log, {len(rows):,} entries", len(rows), seconds, latencies),
    ]


async def main(quick: bool) -> None:
    global WARMUP  # noqa: PLW0603 - one knob for every row
    WARMUP = 20 if quick else WARMUP
    # Assertions live 60 s from minting: a row gets no more than a loaded machine can mint and serve in that time.
    operations = 300 if quick else 1500
    workers = os.cpu_count() or 1
    notes = [
        f"uvicorn; the load driver is another process on the same {workers} cores, {IN_FLIGHT} requests in flight. "
        "Gateway assertions and the exchange's provider credentials were signed before each timed run.",
        "The consent decision itself is the gateway's (it asks the consent service); the exchange enforces the "
        "signed consent context on top, so these rows exclude the consent service's round trip.",
    ]
    if os.getloadavg()[0] > 2:
        notes.append("Other work was running on this machine as the run started (see the load average).")
    notes.append(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as scratch:
        common: dict[str, Any] = {"log_level": "WARNING", "_env_file": None}
        sqlite = ExchangeSettings(var_dir=Path(scratch), **common)
        results += await run_backend(
            "SQLite",
            sqlite,
            people=2_000 if quick else 20_000,
            workers=1,
            operations=operations // 3,
            replay_store=ReplayStore.memory,
            notes=notes,
        )
        if await postgres_reachable():
            pg_people = 5_000 if quick else 1_000_000
            schema = f"bench_exchange_{pg_people}"
            postgres = ExchangeSettings(
                var_dir=Path(scratch) / "pg", database_url=POSTGRES_URL, database_schema=schema, **common
            )
            store = ReplayStore.redis if await redis_reachable() else ReplayStore.database
            results += await run_backend(
                "PostgreSQL",
                postgres,
                people=pg_people,
                workers=workers,
                operations=operations,
                replay_store=store,
                notes=notes,
            )
        else:
            notes.append(f"PostgreSQL at {POSTGRES_URL} was not reachable: its rows are missing from this run.")
    results += verification(2_000 if quick else 20_000, notes)
    report("The exchange at population scale, over HTTP" + (" (--quick)" if quick else ""), results, notes)


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

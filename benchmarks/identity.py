"""Identity at registry scale, over real HTTP: enrolment with deduplication, yes/no authentication and OIDC tokens.

A deterministic synthetic registry is loaded first (1,000,000 people in PostgreSQL and 100,000 in SQLite; with
--quick 5,000 and 2,000), through the same keyring, field encryption and blind indexes as enrolment. Then the
identity service runs under uvicorn as it would be deployed (PostgreSQL: one worker process per core, sharing the
replay store in Redis; SQLite: one process, its single writer) and a load driver in another process sends it
requests whose gateway assertions were minted beforehand, as the gateway would have:
- a protected no-op (`GET /v1/caller`): the framework, assertion check and replay store, the floor of every call;
- enrolment of new people, each deduplicated against the registry (name + date of birth, biometric hash), one at
  a time (the latency the issue's target names) and 16 in flight (throughput);
- yes/no biometric authentication of registry members (the assertion names the `sub` the gateway resolved): first
  with a relying party that has never seen them (registers its pairwise token), then the same people again;
- OIDC token issuance: codes are prepared by real sign-ins (authorize, OTP from the simulated outbox, complete), then
  the token endpoint is timed (private_key_jwt check, PKCE check, ID token and access token signed).
Baseline: a bare FastAPI endpoint under the same uvicorn settings and driver, in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select

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
from benchmarks._floor import ROWS as FLOOR_ROWS
from benchmarks._floor import prepare as prepare_floor
from benchmarks._http import checked, drive, http_request, json_request, serve
from services.common.assertion import StaticJwks
from services.common.clock import SystemClock
from services.common.keys import SigningKey
from services.common.migrations import upgrade_service_database
from services.common.settings import ReplayStore
from services.identity.app import MIGRATIONS_DIR, create_app
from services.identity.config import IdentitySettings
from services.identity.persons.models import Person
from services.identity.persons.synthetic import load_synthetic_registry, synthetic_people
from tests.conftest import Gateway
from tests.identity.access_helpers import Enrolled
from tests.identity.identity_helpers import IdentityApi
from tests.identity.oidc_helpers import JWT_BEARER, RelyingParty, client_assertion, discovery, register, sign_in

REGISTRY_SEED = 2026
NEW_PEOPLE_SEED = int(time.time())  # new to every run: earlier runs left their enrolments in the registry
IN_FLIGHT = 16
WARMUP = 100
FACTORY = "services.identity.app:create_app"


async def prepare_registry(app: Any, people: int) -> tuple[int, float]:
    """Load the registry unless a previous run left it complete; returns (people, load seconds)."""
    async with app.state.sessionmaker() as session:
        present = int(await session.scalar(select(func.count()).select_from(Person)) or 0)
    if present >= people * 0.99:
        return present, 0.0
    start = 0
    if present:  # an interrupted load: go on after the last person it wrote (ids carry the person's number)
        async with app.state.sessionmaker() as session:
            last = await session.scalar(select(func.max(Person.id)).where(Person.id.like(f"per_syn_{REGISTRY_SEED}_%")))
        start = int(str(last).rsplit("_", 1)[1]) + 1
    started = time.perf_counter()
    written = await load_synthetic_registry(
        app.state.sessionmaker, app.state.identity, seed=REGISTRY_SEED, count=people - present, start=start,
        batch_size=5000,
    )  # fmt: skip
    return present + written, time.perf_counter() - started


async def registry_sample(app: Any, size: int) -> list[tuple[str, str]]:
    """(person id, sub) of `size` loaded people, spread over the registry."""
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(Person.id, Person.sub).where(Person.id.like("per_syn_%")))).all()
    rng = random.Random(7)
    return [(row.id, row.sub) for row in rng.sample(rows, min(size, len(rows)))]


def template_of(person_id: str) -> str:
    number = int(person_id.rsplit("_", 1)[1])
    return f"synthetic-template:{REGISTRY_SEED}:{number}"


class Requests:
    """Builds driver requests with fresh gateway assertions, as the gateway forwards them."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def assertion(self, **context: Any) -> dict[str, str]:
        return self.gateway.headers("identity", channel="web", **context)

    def caller(self, count: int) -> list[bytes]:
        return [
            http_request("GET", "/v1/caller", headers=self.assertion(roles=("relying_party",))) for _ in range(count)
        ]

    def enrolments(self, people: Sequence[Any]) -> list[bytes]:
        requests = []
        for person in people:
            body = {k: v for k, v in person.values.items() if v is not None}
            body["biometric_template"] = person.biometric_template
            body["consents"] = {"biometric": True, "notices": False}
            requests.append(json_request("POST", "/v1/enrolments", body, headers=self.assertion(roles=("registrar",))))
        return requests

    def authentications(self, members: Sequence[tuple[str, str]], client_id: str) -> list[bytes]:
        return [
            json_request(
                "POST",
                "/v1/authn",
                {"factor": {"type": "biometric", "template": template_of(person_id)}},
                headers=self.assertion(roles=("relying_party",), subject_ref=sub, client_id=client_id),
            )
            for person_id, sub in members
        ]

    def tokens(self, codes: Sequence[tuple[str, str]], rp: RelyingParty, token_endpoint: str) -> list[bytes]:
        requests = []
        for code, verifier in codes:
            form = {
                "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": rp.redirect_uri, "client_assertion_type": JWT_BEARER,
                "client_assertion": client_assertion(rp, token_endpoint),
            }  # fmt: skip
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            headers.update(self.assertion(roles=("relying_party",), client_id=rp.client_id))
            requests.append(http_request("POST", "/v1/oidc/token", headers=headers, body=urlencode(form).encode()))
        return requests


class ServedIdentityApi(IdentityApi):
    """The test suite's identity helpers against the served workers: they trust only real gateway assertions (the
    suite's trusted test callers exist in its in-process apps alone), so each call carries a freshly minted one."""

    def assertion_headers(self, *, client_id: str, roles: tuple[str, ...], subject_ref: str | None) -> dict[str, str]:
        headers: dict[str, str] = self.gateway.headers(
            "identity", channel="web", roles=roles, subject_ref=subject_ref, client_id=client_id
        )
        return headers


@dataclass
class HttpService:
    """The served identity service as the test helpers expect one (no app object: they go over HTTP)."""

    client: httpx.AsyncClient


async def signed_in(api: IdentityApi, rp: RelyingParty, person_id: str, sub: str) -> tuple[str, str]:
    """A citizen's whole sign-in at `rp` with a fresh VID (the test suite's sign-in, over HTTP); (code, verifier)."""
    vid = await api.call("POST", "/v1/me/vids", roles=("subject",), subject_ref=sub, json={})
    assert vid.status_code == 201, vid.text
    code, verifier, _ = await sign_in(api, rp, Enrolled(person_id, sub, "", vid.json()["vid"]))
    return code, verifier


async def run_backend(label: str, settings: IdentitySettings, env: dict[str, str], *, people: int, workers: int,
                      operations: int, tokens: int, notes: list[str]) -> list[Result]:  # fmt: skip
    gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
    keys_dir = settings.resolved_keys_dir
    keys_dir.mkdir(parents=True, exist_ok=True)
    (keys_dir / "gateway.jwks.json").write_text(json.dumps(gateway.jwks))  # what the served workers trust
    await upgrade_service_database(settings, MIGRATIONS_DIR)
    app = create_app(settings, gateway_jwks=StaticJwks(gateway.jwks))
    async with app.router.lifespan_context(app):  # in-process, for the bulk load and the sample only
        loaded, load_seconds = await prepare_registry(app, people)
        sample = await registry_sample(app, operations + tokens + 2 * WARMUP)
    # every earlier run left a dead outbox row per event, which each relay query then wades through
    if settings.resolved_database_url.startswith("postgresql") and await vacuum_if_autovacuum_off(
        settings.resolved_database_url, settings.resolved_schema
    ):
        notes.append(
            f"{label}: the server runs with autovacuum off, so the script vacuumed the service's tables first."
        )
    print(f"[{label}] registry: {loaded:,} people" + (f", loaded in {load_seconds:,.0f} s" if load_seconds else
                                                       " (kept from an earlier run)"), flush=True)  # fmt: skip
    build = Requests(gateway)
    results: list[Result] = []
    newcomers = list(synthetic_people(NEW_PEOPLE_SEED, 2 * WARMUP + operations + operations // 10))
    members, warm_members = sample[:operations], sample[operations : operations + WARMUP]
    signed_in_sample = sample[operations + WARMUP :]
    with serve(FACTORY, env=env, workers=workers) as served:
        where = f"{label}, {workers} worker{'s' if workers > 1 else ''}"

        def timed(
            what: str, requests: list[bytes], expected: Sequence[int], warmup: list[bytes], in_flight: int = IN_FLIGHT
        ) -> int:
            """Drive and record one row; how many of `requests` (from the first) were answered."""
            load = drive(f"{where}: {what}", served, requests, concurrency=in_flight, warmup=warmup)
            checked(load, expected, results, notes)
            return load.result.count

        timed("GET /v1/caller (assertion check only)", build.caller(operations), (200,), build.caller(WARMUP))

        single = operations // 10
        first_batch, second_batch = newcomers[WARMUP : WARMUP + single], newcomers[2 * WARMUP + single :]
        timed(
            f"enrolment with dedup, 1 in flight ({loaded:,} people)",
            build.enrolments(first_batch),
            (201, 409),
            build.enrolments(newcomers[:WARMUP]),
            in_flight=1,
        )
        timed(
            f"enrolment with dedup, {IN_FLIGHT} in flight",
            build.enrolments(second_batch),
            (201, 409),
            build.enrolments(newcomers[WARMUP + single : 2 * WARMUP + single]),
        )

        rp_id = f"rp-bench-{os.getpid()}-{label.lower()}"
        seen = timed(
            "yes/no biometric authentication, first with this relying party",
            build.authentications(members, rp_id),
            (200,),
            build.authentications(warm_members, rp_id),
        )
        # Only the people the first row reached (it may stop at 40 s): the driver sends requests in order.
        timed("yes/no biometric authentication, repeat", build.authentications(members[:seen], rp_id), (200,), [])

        served_client = httpx.AsyncClient(base_url=f"http://{served.host}:{served.port}", timeout=30)
        setup = ServedIdentityApi(HttpService(served_client), gateway)
        config = await discovery(setup)
        rp = await register(setup, f"{rp_id}-oidc")
        started = time.perf_counter()
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def prepared(person_id: str, sub: str) -> tuple[str, str]:
            async with gate:
                return await signed_in(setup, rp, person_id, sub)

        codes = await asyncio.gather(*(prepared(*member) for member in signed_in_sample[: tokens + WARMUP]))
        await setup.svc.client.aclose()
        setup.seen.clear()  # the helpers keep every response for the suite's scans; nothing scans them here
        print(f"[{label}] {len(codes)} sign-ins prepared in {time.perf_counter() - started:,.1f} s", flush=True)
        endpoint = config["token_endpoint"]
        timed(
            "OIDC token issuance",
            build.tokens(codes[WARMUP:], rp, endpoint),
            (200,),
            build.tokens(codes[:WARMUP], rp, endpoint),
        )
    if workers > 1:
        # The same repeat authentications served by one worker: how much a second worker (a second core for the
        # service) bought on this machine, the nearest this script comes to measuring more cores.
        with serve(FACTORY, env=env, workers=1) as single:
            load = drive(
                f"{label}, 1 worker: yes/no biometric authentication, repeat", single,
                build.authentications(members[:seen], rp_id), concurrency=IN_FLIGHT,
                warmup=build.authentications(warm_members, rp_id),
            )  # fmt: skip
            checked(load, (200,), results, notes)
    return results


def service_env(settings: IdentitySettings, replay_store: ReplayStore) -> dict[str, str]:
    """The served workers' settings, as environment variables (uvicorn builds the app from them)."""
    env = {
        "DPI_IDENTITY_VAR_DIR": str(settings.var_dir),
        "DPI_IDENTITY_KEYS_DIR": str(settings.resolved_keys_dir),
        "DPI_IDENTITY_DATABASE_URL": settings.resolved_database_url,
        "DPI_IDENTITY_REPLAY_STORE": replay_store.value,
        "DPI_IDENTITY_REDIS_URL": REDIS_URL,
        "DPI_IDENTITY_LOG_LEVEL": "WARNING",
        "DPI_IDENTITY_OIDC_CODE_TTL_SECONDS": str(settings.oidc_code_ttl_seconds),
    }
    if settings.database_schema:
        env["DPI_IDENTITY_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def durable_floor(workers: int, operations: int, rows: int, notes: list[str]) -> Result:
    """The second baseline (PostgreSQL): one select and one insert, committed, per request; see _floor.py."""
    await prepare_floor(POSTGRES_URL, rows)
    rng = random.Random(11)
    with serve("benchmarks._floor:floor_app", env={"DPI_BENCH_FLOOR_URL": POSTGRES_URL}, workers=workers,
               ready_path="/ping") as served:  # fmt: skip
        requests = [json_request("POST", "/floor", {"sub": f"sub_{rng.randint(1, rows)}"})
                    for _ in range(operations + WARMUP)]  # fmt: skip
        load = drive(f"baseline: durable floor (select + insert + commit, PostgreSQL), {workers} workers", served,
                     requests[WARMUP:], concurrency=IN_FLIGHT, warmup=requests[:WARMUP])  # fmt: skip
    checked(load, (200,), [], notes)
    return load.result


def baseline(workers: int, operations: int, notes: list[str]) -> Result:
    with serve("benchmarks._common:bare_app", env={}, workers=workers, ready_path="/ping") as served:
        requests = [http_request("GET", "/ping") for _ in range(operations)]
        load = drive(f"baseline: bare FastAPI GET, {workers} worker{'s' if workers > 1 else ''}", served, requests,
                     concurrency=IN_FLIGHT, warmup=requests[:WARMUP])  # fmt: skip
    checked(load, (200,), [], notes)
    return load.result


async def main(quick: bool) -> None:
    global WARMUP  # noqa: PLW0603 - one knob for every row; a smoke run needs little warming
    WARMUP = 20 if quick else WARMUP
    operations = 300 if quick else 10_000
    tokens = 60 if quick else 3000
    workers = os.cpu_count() or 1
    notes = [
        f"uvicorn (httptools, uvloop); the load driver is another process on the same {workers} cores, keeping "
        f"{IN_FLIGHT} requests in flight unless a row says otherwise. Gateway assertions and the relying party's "
        "private_key_jwt were signed before each timed run, as the gateway and the relying party would have.",
        "Enrolment rows write the person, encrypted fields, the UIN and an outbox event; a new person who matches a "
        "registry member by name and date of birth is held for adjudication (409) after the same checks.",
        "The durable floor (PostgreSQL) is FastAPI + SQLAlchemy doing one select by key among a million rows "
        "(--quick: 100,000) and one insert, committed, per request, with nothing else: no service row that writes "
        "can beat it on this machine.",
        "No new request starts 40 s into a row (assertions live 60 s from minting): a row's n is what finished.",
        "First authentications also register the relying party's pairwise token for the person (and announce it); "
        "repeat ones find it registered. Every authentication writes its auth-history entry and outbox event.",
    ]
    results = [baseline(1, operations, notes), baseline(workers, operations, notes)]
    with tempfile.TemporaryDirectory() as scratch:
        # Codes are prepared before the timed part; the lifetime does not change what issuing a token costs.
        common: dict[str, Any] = {"log_level": "WARNING", "_env_file": None, "oidc_code_ttl_seconds": 600}
        sqlite = IdentitySettings(var_dir=Path(scratch), replay_store=ReplayStore.memory, **common)
        results += await run_backend(
            "SQLite", sqlite, service_env(sqlite, ReplayStore.memory), people=2_000 if quick else 100_000, workers=1,
            operations=operations // 3, tokens=tokens // 3, notes=notes,
        )  # fmt: skip
        if await postgres_reachable():
            results.append(await durable_floor(workers, operations, 100_000 if quick else FLOOR_ROWS, notes))
            pg_people = 5_000 if quick else 1_000_000
            schema = f"bench_identity_{pg_people}"
            # The master secret must be the one the registry was loaded under; keep it beside the schema's name.
            bench_keys = Path(os.environ.get("DPI_BENCH_KEYS", Path.home() / ".cache" / "dpi-sandbox-bench"))
            postgres = IdentitySettings(
                var_dir=Path(scratch) / "pg", database_url=POSTGRES_URL, database_schema=schema,
                keys_dir=bench_keys / schema, replay_store=ReplayStore.memory, **common,
            )  # fmt: skip
            shared_store = ReplayStore.redis if await redis_reachable() else ReplayStore.database
            if shared_store is ReplayStore.database:
                notes.append(f"Redis at {REDIS_URL} was not reachable: the workers share the database replay store.")
            results += await run_backend(
                "PostgreSQL", postgres, service_env(postgres, shared_store), people=pg_people, workers=workers,
                operations=operations, tokens=tokens, notes=notes,
            )  # fmt: skip
        else:
            notes.append(f"PostgreSQL at {POSTGRES_URL} was not reachable: its rows are missing from this run.")
    report("Identity at registry scale, over HTTP" + (" (--quick)" if quick else ""), results, notes)


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

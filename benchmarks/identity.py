"""Identity at registry scale: enrolment with deduplication, yes/no authentication and OIDC token issuance.

A deterministic synthetic registry is loaded first (1,000,000 people in PostgreSQL and 100,000 in SQLite; with
--quick 5,000 and 2,000), through the same keyring, field encryption and blind indexes as enrolment. Then, against
that registry, through the identity app's full HTTP stack (assertion check, validation, database, outbox):
- enrolment of new people, each deduplicated against the registry (name + date of birth and biometric hash);
- yes/no biometric authentication of registry members (the gateway resolved them, so the assertion names `sub`);
- OIDC token issuance: authorization codes are prepared by real sign-ins (authorize, OTP, complete), then the
  timed part is the token endpoint (private_key_jwt check, PKCE check, ID token and access token signed).
Baseline: a bare FastAPI endpoint in the same run. Requests go through httpx's ASGI transport (no sockets): the
figures are application cost in one process on one event loop, 8 requests in flight.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select

from benchmarks._common import POSTGRES_URL, Result, arguments, bare_app, measure, postgres_reachable, report
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
from tests.identity.oidc_helpers import JWT_BEARER, client_assertion, discovery, register, sign_in, via_gateway

REGISTRY_SEED = 2026
NEW_PEOPLE_SEED = int(time.time())  # new to every run: earlier runs left their enrolments in the registry
CONCURRENCY = 8


class Service:
    """The identity app with a client, shaped as the test helpers expect."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity")


async def prepare_registry(settings: IdentitySettings, app: Any, people: int) -> tuple[int, float]:
    """Load the registry unless a previous run left it complete; returns (people, load seconds)."""
    async with app.state.sessionmaker() as session:
        present = await session.scalar(select(func.count()).select_from(Person))
    present = int(present or 0)
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


async def run_backend(
    label: str, settings: IdentitySettings, people: int, operations: int, tokens: int
) -> list[Result]:
    gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
    await upgrade_service_database(settings, MIGRATIONS_DIR)  # before the app starts its outbox relay
    app = create_app(settings, gateway_jwks=StaticJwks(gateway.jwks))
    results: list[Result] = []
    async with app.router.lifespan_context(app):
        service = Service(app)
        api = IdentityApi(service, gateway)
        loaded, load_seconds = await prepare_registry(settings, app, people)
        print(f"[{label}] registry: {loaded:,} people" + (f", loaded in {load_seconds:,.0f} s" if load_seconds else
                                                           " (kept from an earlier run)"), flush=True)  # fmt: skip

        newcomers = iter(list(synthetic_people(NEW_PEOPLE_SEED, operations + 40)))
        outcomes: dict[int, int] = {}

        async def enrol() -> None:
            person = next(newcomers)
            body = {k: v for k, v in person.values.items() if v is not None}
            body["biometric_template"] = person.biometric_template
            body["consents"] = {"biometric": True, "notices": False}
            response = await api.call("POST", "/v1/enrolments", roles=("registrar",), json=body)
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
            assert response.status_code in (201, 409), response.text

        results.append(await measure(f"{label}: enrolment with dedup ({loaded:,} people)", enrol,
                                     count=operations, concurrency=CONCURRENCY))  # fmt: skip
        print(f"[{label}] enrolment outcomes: {outcomes}", flush=True)
        api.seen.clear()

        sample = await registry_sample(app, operations + 20)
        members = iter(sample * 2)

        async def authenticate() -> None:
            person_id, sub = next(members)
            body = {"factor": {"type": "biometric", "template": template_of(person_id)}}
            response = await api.call("POST", "/v1/authn", roles=("relying_party",), subject_ref=sub, json=body,
                                      client_id="rp-bench")  # fmt: skip
            assert response.status_code == 200 and response.json()["authenticated"], response.text

        results.append(await measure(f"{label}: yes/no authentication, biometric ({loaded:,} people)", authenticate,
                                     count=operations, concurrency=CONCURRENCY))  # fmt: skip
        api.seen.clear()

        config = await discovery(api)
        rp = await register(api, f"rp-bench-{os.getpid()}-{label.lower()}")
        prepared: list[tuple[str, str]] = []
        started = time.perf_counter()
        for person_id, sub in sample[: tokens + 20]:
            vid = await api.call("POST", "/v1/me/vids", roles=("subject",), subject_ref=sub, json={})
            assert vid.status_code == 201, vid.text
            code, verifier, _ = await sign_in(api, rp, Enrolled(person_id, sub, "", vid.json()["vid"]))
            prepared.append((code, verifier))
        print(f"[{label}] {len(prepared)} sign-ins prepared in {time.perf_counter() - started:,.1f} s", flush=True)
        api.seen.clear()
        codes = iter(prepared)
        token_client = via_gateway(api, client_id=rp.client_id, roles=("relying_party",))

        async def issue_token() -> None:
            code, verifier = next(codes)
            form = {
                "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": rp.redirect_uri, "client_assertion_type": JWT_BEARER,
                "client_assertion": client_assertion(rp, config["token_endpoint"]),
            }  # fmt: skip
            response = await token_client.post(
                "/v1/oidc/token", content=urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert response.status_code == 200, response.text

        async with token_client:
            results.append(await measure(f"{label}: OIDC token issuance", issue_token, count=tokens,
                                         concurrency=CONCURRENCY))  # fmt: skip
        await service.client.aclose()
    return results


async def main(quick: bool) -> None:
    operations = 200 if quick else 2000
    tokens = 100 if quick else 1000
    results: list[Result] = []
    notes = [
        "Each HTTP row includes minting a fresh gateway assertion on the client side (about 0.2 ms of the same core).",
        "Token rows also sign the relying party's private_key_jwt on the client side (ES256).",
        "Enrolment rows write the person, encrypted fields, the UIN and an outbox event; some new people may match a "
        "registry member by name and date of birth, and are then held for adjudication (409) after the same checks.",
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app()), base_url="http://bare") as bare:
        results.append(await measure("baseline: bare FastAPI GET", lambda: bare.get("/ping"), count=operations,
                                     concurrency=CONCURRENCY))  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        # Codes are prepared before the timed part, which takes longer than their 60 s default lifetime; the
        # lifetime does not change what issuing a token costs.
        common: dict[str, Any] = {
            "replay_store": ReplayStore.memory, "log_level": "WARNING", "_env_file": None, "oidc_code_ttl_seconds": 600,
        }  # fmt: skip
        sqlite_people = 2_000 if quick else 100_000
        sqlite = IdentitySettings(var_dir=Path(scratch), **common)
        results += await run_backend("SQLite", sqlite, sqlite_people, operations, tokens)
        if await postgres_reachable():
            pg_people = 5_000 if quick else 1_000_000
            schema = f"bench_identity_{pg_people}"
            postgres = IdentitySettings(
                var_dir=Path(scratch) / "pg", database_url=POSTGRES_URL, database_schema=schema, **common
            )
            # The master secret must be the one the registry was loaded under; keep it beside the schema's name.
            postgres_keys = Path(os.environ.get("DPI_BENCH_KEYS", Path.home() / ".cache" / "dpi-sandbox-bench"))
            postgres = postgres.model_copy(update={"keys_dir": postgres_keys / schema})
            results += await run_backend("PostgreSQL", postgres, pg_people, operations, tokens)
        else:
            notes.append(f"PostgreSQL at {POSTGRES_URL} was not reachable: its rows are missing from this run.")
    report("Identity at registry scale" + (" (--quick)" if quick else ""), results, notes)


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

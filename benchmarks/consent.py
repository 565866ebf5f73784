"""Consent decisions at registry scale, over real HTTP, next to the protected no-op in the same run.

100,000 granted consents are loaded into PostgreSQL first (--quick: 10,000), straight into the consent service's
tables (one active purpose, one artefact per subject, 50 requesters), and the table is rewritten (VACUUM FULL) so that
every run starts from the same state. Then the consent service runs under uvicorn as it would be deployed (one worker
process per core, sharing the assertion replay store in Redis, or in the database where Redis does not answer) and a
load driver in another process sends it requests whose gateway assertions were minted beforehand, as the gateway
would have:
- the protected no-op (`GET /v1/caller`): the framework, the assertion check and the replay store, the floor of
  every call the gateway makes;
- `POST /v1/decisions` for consented subjects (permits: the one conditional UPDATE that finds the newest covering
  artefact and takes a use of it, committed before the answer; the permits arriving while a batch commits go
  together in the next one, pipelined in one transaction: one round trip and one commit per batch), 16 in flight
  and 1 in flight;
- `POST /v1/decisions` for subjects without a consent (denies: that statement finding nothing, then the SELECT that
  explains why).
Targets (docs/benchmarks.md): decisions at >= 60% of the protected no-op's rate, p99 under 10 ms at 16 in flight.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import sys
import tempfile
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks._common import POSTGRES_URL, REDIS_URL, Result, arguments, postgres_reachable, redis_reachable, report
from benchmarks._http import checked, drive, http_request, json_request, serve
from services.common.app import open_resources
from services.common.clock import SystemClock
from services.common.keys import SigningKey
from services.common.migrations import upgrade_service_database
from services.common.settings import ReplayStore
from services.consent.app import MIGRATIONS_DIR, create_app
from services.consent.config import ConsentSettings
from services.consent.consents.models import Consent, list_key
from services.consent.purposes.models import Purpose
from tests.conftest import Gateway

PURPOSE = "BENCH_CASH_TRANSFER"
ITEMS = ["household_income_band", "household_size"]
REQUESTERS = 50
IN_FLIGHT = 16
WARMUP = 200
FACTORY = "services.consent.app:create_app"


def free_port_block(size: int) -> int:
    """The first of `size` consecutive ports that are free now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size < 65535 and all(_free(port) for port in range(base, base + size)):
            return base
    raise SystemExit("found no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def requester_of(number: int) -> str:
    return f"rp-bench-{number % REQUESTERS}"


async def prepare(settings: ConsentSettings, consents: int) -> tuple[int, bool]:
    """Load the purpose and `consents` granted artefacts unless a previous run left them valid; (count, loaded)."""
    await upgrade_service_database(settings, MIGRATIONS_DIR)
    app = create_app(settings)
    opened = open_resources(app)  # its database alone: no bus, outbox relay or timers
    await opened.__aenter__()
    now = SystemClock().now()
    purpose_table, consent_table = Purpose.__table__, Consent.__table__
    async with app.state.engine.connect() as connection:
        present = int(await connection.scalar(select(func.count()).select_from(consent_table)) or 0)
        soonest = await connection.scalar(select(func.min(Consent.expires_at)))
        keyless = await connection.scalar(select(func.count()).where(Consent.items_key == ""))
    if (
        present == consents
        and not keyless
        and soonest is not None
        and soonest.replace(tzinfo=UTC) > now + timedelta(days=2)
    ):
        await _vacuum(app.state.engine)  # after the look above has ended its transaction, whose lock VACUUM awaits
        await opened.__aexit__(None, None, None)
        return present, False
    async with app.state.engine.begin() as connection:
        for table in ("receipts", "consent_events", "consents", "purpose_changes", "purposes", "outbox"):
            await connection.execute(delete(Consent.metadata.tables[table]))
        await connection.execute(
            insert(purpose_table),
            {
                "code": PURPOSE, "version": 2, "status": "active",
                "texts": {"en": {"title": "Cash transfer eligibility", "description": "Benchmark purpose."}},
                "dpv_purpose": "dpv:PublicBenefit", "legal_basis": "dpv:Consent", "essential": True,
                "allowed_items": ITEMS, "legally_required": [], "max_validity_days": 365, "max_data_life_days": 30,
                "ekyc_allowed": False, "statutes": [], "dpia_ref": "DPIA-BENCH", "hria_ref": "HRIA-BENCH",
                "created_by": "bench", "approved_by": "bench", "approved_at": now, "created_at": now,
                "updated_at": now,
            },
        )  # fmt: skip
        notice = {"language": "en", "requested_language": "en", "fell_back": False, "dpv_purpose": "dpv:PublicBenefit",
                  "title": "Cash transfer eligibility", "description": "Benchmark purpose."}  # fmt: skip
        batch: list[dict[str, Any]] = []
        for number in range(consents):
            batch.append(
                {
                    "id": f"cns_{number:032x}", "version": 2, "status": "granted", "requester": requester_of(number),
                    "subject": f"sub_bench_{number}", "purpose": PURPOSE, "notice": notice,
                    "legal_basis": "dpv:Consent", "essential": True, "items": ITEMS, "items_key": list_key(ITEMS),
                    "valid_from": now, "jurisdiction_key": ",XS,",
                    "expires_at": now + timedelta(days=300), "data_life_unit": "day", "data_life_value": 7,
                    "data_life_seconds": 7 * 86_400, "frequency_unit": None, "frequency_value": None,
                    "window_key": None, "window_uses": 0, "use_limit": None, "uses": 0, "last_used_at": None,
                    "jurisdiction": ["XS"], "transfer_basis": None, "revoke_url": "/me/consents",
                    "grievance_url": "/me/grievances", "data_life_until": now + timedelta(days=307),
                    "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            if len(batch) == 5000:
                await connection.execute(insert(consent_table), batch)
                batch = []
        if batch:
            await connection.execute(insert(consent_table), batch)
    await _vacuum(app.state.engine)
    await opened.__aexit__(None, None, None)
    return consents, True


async def _vacuum(engine: AsyncEngine) -> None:
    """Start every run from the same state, whether the rows were loaded now or kept: every permit's UPDATE leaves a
    dead row version behind, and a kept table would carry those of every earlier run (test servers, this machine's
    among them, may run with autovacuum off). VACUUM FULL rewrites the table as a fresh load would lay it out, with
    the room its fill factor keeps in each page for the next row version (services/consent/consents/models.py)."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("consents", "purposes"):
            await autocommit.execute(text(f"VACUUM (FULL, ANALYZE) {table}"))


class Requests:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def headers(self) -> dict[str, str]:
        return self.gateway.headers("consent", roles=("gateway",), client_id="dpi-gateway")

    def caller(self, count: int) -> list[bytes]:
        return [http_request("GET", "/v1/caller", headers=self.headers()) for _ in range(count)]

    def decisions(self, numbers: list[int], *, consented: bool) -> list[bytes]:
        requests = []
        for number in numbers:
            subject = f"sub_bench_{number}" if consented else f"sub_nobody_{number}"
            body = {"requester": requester_of(number), "subject": subject, "purpose": PURPOSE,
                    "items": ["household_income_band"], "processing_location": "XS"}  # fmt: skip
            requests.append(json_request("POST", "/v1/decisions", body, headers=self.headers()))
        return requests


async def main(quick: bool) -> None:
    consents = 10_000 if quick else 100_000
    operations = 1_000 if quick else 10_000
    warmup = 50 if quick else WARMUP
    workers = os.cpu_count() or 1
    notes = [
        f"uvicorn (httptools, uvloop), {workers} worker processes (one per core); the load driver is another process "
        f"on the same cores, keeping {IN_FLIGHT} requests in flight unless a row says otherwise. Gateway assertions "
        "were signed before each timed run, as the gateway would have.",
        "A permit is one statement: the conditional UPDATE that finds the newest covering artefact and takes one use "
        "of it (uses, last use), durably committed before the answer leaves; each worker commits the permits that "
        "arrive while a batch commits together in the next batch (group commit: one round trip, one commit and WAL "
        "flush per batch). A deny is that statement finding nothing, then the SELECT that explains why. No cache: "
        "every decision reads the database.",
    ]
    results: list[Result] = []
    if not await postgres_reachable():
        report("Consent decisions over HTTP", [], [f"PostgreSQL at {POSTGRES_URL} was not reachable: no rows."])
        return
    store = ReplayStore.redis if await redis_reachable() else ReplayStore.database
    if store is ReplayStore.database:
        notes.append(f"Redis at {REDIS_URL} was not reachable: the workers share the database replay store.")
    with tempfile.TemporaryDirectory() as scratch:
        schema = f"bench_consent_{consents}"
        settings = ConsentSettings(
            _env_file=None, var_dir=Path(scratch), database_url=POSTGRES_URL, database_schema=schema,
            replay_store=store, log_level="WARNING", expiry_interval_seconds=0,
        )  # fmt: skip
        loaded, fresh = await prepare(settings, consents)
        print(f"[PostgreSQL] {loaded:,} granted consents" + (" loaded" if fresh else " kept from an earlier run"),
              flush=True)  # fmt: skip
        gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
        keys_dir = settings.resolved_keys_dir
        keys_dir.mkdir(parents=True, exist_ok=True)
        (keys_dir / "gateway.jwks.json").write_text(json.dumps(gateway.jwks))
        env = {
            "DPI_CONSENT_VAR_DIR": scratch, "DPI_CONSENT_DATABASE_URL": POSTGRES_URL,
            "DPI_CONSENT_DATABASE_SCHEMA": schema, "DPI_CONSENT_REPLAY_STORE": store.value,
            "DPI_CONSENT_REDIS_URL": REDIS_URL, "DPI_CONSENT_LOG_LEVEL": "WARNING",
            "DPI_CONSENT_EXPIRY_INTERVAL_SECONDS": "60",
        }  # fmt: skip
        build = Requests(gateway)
        rng = random.Random(2026)
        sample = rng.sample(range(consents), min(consents, 2 * operations + 3 * warmup))
        # A port of its own: other checkouts on the machine run their benchmarks on serve()'s default ports.
        with serve(FACTORY, env=env, workers=workers, port=free_port_block(workers)) as served:
            where = f"PostgreSQL, {workers} workers"
            noop = checked(
                drive(f"{where}: GET /v1/caller (protected no-op)", served, build.caller(operations),
                      concurrency=IN_FLIGHT, warmup=build.caller(warmup)),
                (200,), results, notes,
            )  # fmt: skip
            permits = checked(
                drive(f"{where}: POST /v1/decisions, permit ({loaded:,} active consents)", served,
                      build.decisions(sample[:operations], consented=True), concurrency=IN_FLIGHT,
                      warmup=build.decisions(sample[-warmup:], consented=True)),
                (200,), results, notes,
            )  # fmt: skip
            checked(
                drive(f"{where}: POST /v1/decisions, deny (no consent)", served,
                      build.decisions(list(range(operations)), consented=False), concurrency=IN_FLIGHT,
                      warmup=build.decisions(list(range(operations, operations + warmup)), consented=False)),
                (200,), results, notes,
            )  # fmt: skip
            single = operations // 10
            checked(
                drive(f"{where}: POST /v1/decisions, permit, 1 in flight", served,
                      build.decisions(sample[operations : operations + single], consented=True), concurrency=1,
                      warmup=build.decisions(sample[-2 * warmup : -warmup], consented=True)),
                (200,), results, notes,
            )  # fmt: skip
    ratio = permits.per_second / noop.per_second
    notes.append(
        f"Decisions (permit) ran at {ratio:.0%} of the protected no-op's rate (target >= 60%) with p99 "
        f"{permits.percentile(0.99):.2f} ms at {IN_FLIGHT} in flight (target < 10 ms)."
    )
    report("Consent decisions over HTTP" + (" (--quick)" if quick else ""), results, notes)


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))

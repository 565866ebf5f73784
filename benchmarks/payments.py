"""Payments at registry scale, over real HTTP: two-phase transfers, the mapper, bulk intake and a 1,000,000-
beneficiary disbursement, each next to a baseline of the same work in the same run.

PostgreSQL (schema `bench_payments_<beneficiaries>`, kept between runs): 1,000,000 SIMULATED beneficiaries
(--quick: 10,000), each with an account at one of the simulated FSPs and a default link in the mapper, are loaded
once by the database itself (INSERT ... SELECT over a number series, 100,000 a transaction, resumable). Every run
then empties what the previous one wrote (postings, batches, transfers, records, events) and zeroes the balances.
The payments service runs under uvicorn as it would be deployed (one worker process per core, the assertion replay
store in Redis) and a load driver in another process sends it requests built, and their gateway assertions minted,
beforehand. Rows:
- baselines: a bare FastAPI GET and the durable floor (one select among a million rows and one insert, committed,
  per request: benchmarks/_floor.py), both served the same way;
- the protected no-op (`GET /v1/caller`) and a mapper resolve (`GET /v1/mapper/resolve`) among all the links;
- complete two-phase transfers: the payer FSP's prepare (funds reserved) and the payee FSP's fulfil (committed), both
  with an Idempotency-Key, sent one after the other on one connection and timed together; 16 transfers in flight;
- bulk intake: programmes posting JSON batches of 10,000 beneficiaries (the service's default 1 MiB body limit);
- a disbursement to every beneficiary, paid by the service's background job (BulkWorker, in this process: a chunk a
  transaction, resolved through the mapper, posted, credited, each item's status set, each chunk signed); next to it
  the same inserts and updates as plain set-based SQL over the whole batch in one transaction, on another batch to
  the same people.
SQLite: the service's job paying a 100,000-item batch (--quick: 5,000) in one process, next to the same SQL baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks._common import POSTGRES_URL, REDIS_URL, Result, postgres_reachable, redis_reachable, report
from benchmarks._floor import ROWS as FLOOR_ROWS
from benchmarks._floor import prepare as prepare_floor
from benchmarks._http import (
    CpuUse,
    Request,
    _cpu_ticks,
    _cpu_use,
    checked,
    drive,
    http_request,
    json_request,
    serve,
)
from benchmarks.consent import free_port_block
from services.common.app import open_resources
from services.common.clock import SystemClock
from services.common.db import UTCDateTime, insert_unless_conflict, table_of
from services.common.keys import SigningKey
from services.common.migrations import upgrade_service_database
from services.common.settings import ReplayStore
from services.payments.app import MIGRATIONS_DIR, create_app
from services.payments.bulk.synthetic import create_batch, load_beneficiaries
from services.payments.bulk.worker import BulkWorker
from services.payments.config import PaymentsSettings
from services.payments.ledger.models import Account, AccountKind
from services.payments.ledger.service import SETTLEMENT_BANK, Leg, account_id_for
from services.payments.ledger.service import ledger as ledger_service
from services.payments.ledger.simulator import seed_network
from services.payments.mapper.models import Link
from services.payments.transfers.simulator import SimulatedPayeeFsp
from tests.conftest import Gateway

FACTORY = "services.payments.app:create_app"
IN_FLIGHT = 16
CURRENCY = "USD"
PREFIX = "bench"  # beneficiary n is the person bench-<n>, holding account bench<n> (synthetic.py)
PROGRAMME = "bench-programme"  # the programme's gateway client and its account's address
DISBURSED = 10_000  # minor units each beneficiary receives per batch (100.00)
LOAD_CHUNK = 100_000
INTAKE_ITEMS = 10_000
CHUNK_DEFAULT = 20_000  # the job's chunk on PostgreSQL when bulk_chunk_size is unset (BulkRepository)
# What a run writes; emptied at the start of the next (the people, accounts and links stay).
RUN_TABLES = (
    "postings", "batch_items", "batches", "transfers", "quotes", "signed_records", "disputes", "net_positions",
    "settlement_windows", "outbox", "idempotency_records", "seen_assertions",
)  # fmt: skip
TARGETS = {
    "transfers": "complete two-phase transfers >= 35% of the durable floor's request rate, p99 < 50 ms",
    "disbursement": "1,000,000-beneficiary disbursement < 60 s and >= 40% of the raw SQL baseline's rate",
    "resolve": "mapper resolve >= 70% of the protected no-op's rate",
    "intake": "batch intake >= 6,250 items/s",
}


# --- the baseline of the disbursement: the same inserts and updates, plain set-based SQL -------------------------

_BATCH_PENDING = "batch_items.batch_id = :b AND batch_items.status = 'pending'"
_BATCH_PAID = "batch_items.batch_id = :b AND batch_items.status = 'paid'"
RAW_DISBURSEMENT = tuple(
    statement.replace("@PENDING", _BATCH_PENDING).replace("@PAID", _BATCH_PAID)
    for statement in (
        # Resolve every item through the mapper (the person's default link); those whose account takes the credit
        # (active, in the currency) get it and are marked paid, in one pass, as the job does ...
        """UPDATE batch_items SET account_id = accounts.id, status = 'paid', completed_at = :now
           FROM links, accounts
           WHERE links.ref_type = 'sub' AND links.person_ref = batch_items.person_ref AND links.is_default
             AND accounts.id = links.account_id AND accounts.status = 'active' AND accounts.currency = :cur
             AND @PENDING""",
        # ... the rest fail with their link (if any) and the reason ...
        """UPDATE batch_items SET account_id = links.account_id FROM links
           WHERE links.ref_type = 'sub' AND links.person_ref = batch_items.person_ref AND links.is_default
             AND @PENDING""",
        """UPDATE batch_items SET status = 'failed', completed_at = :now,
               reason = CASE WHEN batch_items.account_id IS NULL THEN 'unresolved'
                             WHEN (SELECT accounts.status FROM accounts
                                   WHERE accounts.id = batch_items.account_id) <> 'active' THEN 'account_closed'
                             ELSE 'currency_mismatch' END
           WHERE @PENDING""",
        # ... debit the programme by the total, within its limit ...
        """UPDATE accounts SET balance = accounts.balance - due.total
           FROM (SELECT COALESCE(SUM(batch_items.amount), 0) AS total FROM batch_items WHERE @PAID) AS due
           WHERE accounts.id = :src
             AND (accounts.debit_limit IS NULL
                  OR accounts.balance - accounts.pending_debits - due.total + accounts.debit_limit >= 0)""",
        # ... one posting per paid item, every payee credited by its total ...
        """INSERT INTO postings (id, debit_account_id, credit_account_id, amount, currency, state, code, reference,
                                 created_at, resolved_at)
           SELECT :b || ':' || CAST(batch_items.seq AS VARCHAR(12)), :src, batch_items.account_id,
                  batch_items.amount, :cur, 'posted', 'disbursement', :b, :now, :now
           FROM batch_items WHERE @PAID""",
        """UPDATE accounts SET balance = accounts.balance + due.total
           FROM (SELECT batch_items.account_id AS account_id, SUM(batch_items.amount) AS total
                 FROM batch_items WHERE @PAID GROUP BY batch_items.account_id) AS due
           WHERE accounts.id = due.account_id AND accounts.status = 'active'""",
        # ... and the batch's totals.
        """UPDATE batches SET state = 'completed', processed_through = batches.item_count, started_at = :now,
               completed_at = :now,
               paid_count = (SELECT COUNT(*) FROM batch_items WHERE batch_id = :b AND status = 'paid'),
               paid_sum = (SELECT COALESCE(SUM(amount), 0) FROM batch_items WHERE batch_id = :b AND status = 'paid'),
               failed_count = (SELECT COUNT(*) FROM batch_items WHERE batch_id = :b AND status = 'failed')
           WHERE batches.id = :b""",
    )
)


async def raw_disbursement(sessionmaker: async_sessionmaker[AsyncSession], batch_id: str, source: str) -> float:
    """Pay `batch_id` with the plain statements above, in one transaction; the seconds it took, commit included."""
    params = {"b": batch_id, "src": source, "cur": CURRENCY, "now": SystemClock().now()}
    started = time.perf_counter()
    async with sessionmaker() as session, session.begin():
        for statement in RAW_DISBURSEMENT:
            clause = text(statement)
            if ":now" in statement:
                clause = clause.bindparams(bindparam("now", type_=UTCDateTime()))
            await session.execute(clause, params)
    return time.perf_counter() - started


# --- set-up -------------------------------------------------------------------------------------------------------


def programme_account() -> str:
    return account_id_for(SETTLEMENT_BANK, AccountKind.programme, CURRENCY, PROGRAMME)


async def prepare(sessionmaker: async_sessionmaker[AsyncSession], beneficiaries: int) -> tuple[int, float]:
    """The simulated network and `beneficiaries` people with accounts and default links, unless a previous run left
    them complete (an interrupted load goes on from its last committed chunk); (people, load seconds)."""
    now = SystemClock().now()
    async with sessionmaker() as session, session.begin():
        await seed_network(session, CURRENCY, now)
        await insert_unless_conflict(session, table_of(Account), {
            "id": programme_account(), "participant_id": SETTLEMENT_BANK, "kind": AccountKind.programme.value,
            "address": PROGRAMME, "currency": CURRENCY, "owner_ref": PROGRAMME, "status": "active", "balance": 0,
            "pending_debits": 0, "debit_limit": 0, "created_at": now,
        })  # fmt: skip
    async with sessionmaker() as session:
        present = int(await session.scalar(select(func.count()).where(Link.person_ref.like(f"{PREFIX}-%"))) or 0)
    if present >= beneficiaries:
        return present, 0.0
    started = time.perf_counter()
    for first in range(present, beneficiaries, LOAD_CHUNK):
        last = min(first + LOAD_CHUNK, beneficiaries) - 1
        async with sessionmaker() as session, session.begin():
            await load_beneficiaries(session, prefix=PREFIX, first=first, last=last, currency=CURRENCY, now=now)
        print(f"[{sessionmaker.kw['bind'].dialect.name}] {last + 1:,} beneficiaries loaded", flush=True)
    return beneficiaries, time.perf_counter() - started


async def reset(sessionmaker: async_sessionmaker[AsyncSession], *, postgres: bool) -> None:
    """Empty what an earlier run wrote and zero every balance, so the books start from nothing (and balance)."""
    async with sessionmaker() as session, session.begin():
        if postgres:
            await session.execute(text(f"TRUNCATE {', '.join(RUN_TABLES)}"))
        else:
            for table in RUN_TABLES:
                await session.execute(text(f"DELETE FROM {table}"))
        await session.execute(
            text("UPDATE accounts SET balance = 0, pending_debits = 0 WHERE balance <> 0 OR pending_debits <> 0")
        )
    await vacuum(sessionmaker, postgres=postgres)


async def vacuum(sessionmaker: async_sessionmaker[AsyncSession], *, postgres: bool) -> None:
    """Where autovacuum is off (as on the machines this project is tested on), do its work between the rows: a
    million updated accounts leave a million dead rows that the next updates would wade through."""
    if not postgres:
        return
    engine = sessionmaker.kw["bind"]
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        for table in ("accounts", "links", "batch_items", "batches", "postings"):
            await connection.execute(text(f"VACUUM (ANALYZE) {table}"))


async def fund_programme(sessionmaker: async_sessionmaker[AsyncSession], amount: int, posting_id: str) -> None:
    """Issue `amount` to the programme's account through the ledger (a balanced posting from the issuance account)."""
    clock = SystemClock()
    issuance = account_id_for(SETTLEMENT_BANK, AccountKind.issuance, CURRENCY)
    async with sessionmaker() as session, session.begin():
        leg = Leg(posting_id, issuance, programme_account(), amount, "funding")
        await ledger_service.post(session, [leg], currency=CURRENCY, clock=clock)


async def new_batch(sessionmaker: async_sessionmaker[AsyncSession], batch_id: str, count: int) -> None:
    async with sessionmaker() as session, session.begin():
        await create_batch(session, batch_id=batch_id, programme=PROGRAMME, source_account_id=programme_account(),
                           prefix=PREFIX, count=count, amount=DISBURSED, currency=CURRENCY,
                           now=SystemClock().now())  # fmt: skip


async def batch_outcome(sessionmaker: async_sessionmaker[AsyncSession], batch_id: str) -> tuple[str, int, int, int]:
    """(state, paid items, failed items, postings) of a batch, read from the tables."""
    queries = (
        "SELECT state FROM batches WHERE id = :b",
        "SELECT COUNT(*) FROM batch_items WHERE batch_id = :b AND status = 'paid'",
        "SELECT COUNT(*) FROM batch_items WHERE batch_id = :b AND status = 'failed'",
        "SELECT COUNT(*) FROM postings WHERE reference = :b",
    )
    async with sessionmaker() as session:
        state, paid, failed, postings = [
            (await session.execute(text(query), {"b": batch_id})).scalar_one() for query in queries
        ]
    return str(state), int(paid), int(failed), int(postings)


def paid_in_full(label: str, outcome: tuple[str, int, int, int], count: int) -> None:
    """A disbursement row counts only if every item was paid once (a posting each) and the batch completed."""
    if outcome != ("completed", count, 0, count):
        raise SystemExit(f"{label}: the batch ended as (state, paid, failed, postings) = {outcome}, not all paid")


async def job_disbursement(app: Any, batch_id: str) -> float:
    """Pay `batch_id` with the service's own job (BulkWorker.run_once, as each served worker's timer runs it), in
    this process: chunks of one batch run one after another whatever the number of processes (each locks the
    batch), so more workers would only wait on that lock. The seconds until the batch completed."""
    worker = BulkWorker(app.state.sessionmaker, app.state.payments)
    started = time.perf_counter()
    await worker.run_once()
    return time.perf_counter() - started


# --- requests -----------------------------------------------------------------------------------------------------


class Requests:
    """Driver requests with fresh gateway assertions, as the gateway forwards them."""

    def __init__(self, gateway: Gateway, payee_fsps: SimulatedPayeeFsp, run: str) -> None:
        self.gateway = gateway
        self.payee_fsps = payee_fsps
        self.run = run  # in every id and key, so no run replays an earlier one's

    def headers(self, client_id: str, role: str, key: str | None = None) -> dict[str, str]:
        headers = self.gateway.headers("payments", client_id=client_id, roles=(role,))
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def caller(self, count: int) -> list[Request]:
        return [http_request("GET", "/v1/caller", headers=self.headers(PROGRAMME, "programme")) for _ in range(count)]

    def resolves(self, people: Sequence[int]) -> list[Request]:
        headers = [self.headers(PROGRAMME, "programme") for _ in people]
        return [
            http_request("GET", f"/v1/mapper/resolve?ref={PREFIX}-{n}", headers=h)
            for n, h in zip(people, headers, strict=True)
        ]

    def transfers(self, pairs: Sequence[tuple[int, int]], amount: str) -> list[Request]:
        """Prepare (bank-a's customer pays bank-b's) then fulfil (bank-b reveals the fulfilment), as one chain."""
        chains: list[Request] = []
        for payer, payee in pairs:
            transfer_id = f"{self.run}-{payer}-{payee}"
            body = {
                "transfer_id": transfer_id,
                "payer": {"fsp_id": "bank-a", "address": f"{PREFIX}{payer}"},
                "payee": {"fsp_id": "bank-b", "address": f"{PREFIX}{payee}"},
                "amount": {"amount": amount, "currency": CURRENCY},
                "condition": self.payee_fsps.condition("bank-b", transfer_id),
            }
            prepare = json_request(
                "POST", "/v1/transfers", body, headers=self.headers("sim-bank-a", "fsp", f"prepare-{transfer_id}")
            )
            fulfil = json_request(
                "POST", f"/v1/transfers/{transfer_id}/fulfil",
                {"fulfilment": self.payee_fsps.fulfilment("bank-b", transfer_id)},
                headers=self.headers("sim-bank-b", "fsp", f"fulfil-{transfer_id}"),
            )  # fmt: skip
            chains.append((prepare, fulfil))
        return chains

    def batches(self, count: int, people: int, label: str) -> list[Request]:
        requests: list[Request] = []
        rng = random.Random(label)
        for number in range(count):
            message_id = f"{self.run}-{label}-{number}"
            chosen = rng.sample(range(people), min(INTAKE_ITEMS, people))
            body = {
                "message_id": message_id, "debtor": {"fsp_id": SETTLEMENT_BANK, "address": PROGRAMME},
                "currency": CURRENCY, "items": [{"person_ref": f"{PREFIX}-{n}", "amount": "1.00"} for n in chosen],
            }  # fmt: skip
            requests.append(
                json_request("POST", "/v1/bulk/batches", body, headers=self.headers(PROGRAMME, "programme", message_id))
            )
        return requests


def service_env(settings: PaymentsSettings, store: ReplayStore) -> dict[str, str]:
    return {
        "DPI_PAYMENTS_VAR_DIR": str(settings.var_dir), "DPI_PAYMENTS_KEYS_DIR": str(settings.resolved_keys_dir),
        "DPI_PAYMENTS_DATABASE_URL": settings.resolved_database_url,
        "DPI_PAYMENTS_DATABASE_SCHEMA": str(settings.database_schema), "DPI_PAYMENTS_REPLAY_STORE": store.value,
        "DPI_PAYMENTS_REDIS_URL": REDIS_URL, "DPI_PAYMENTS_LOG_LEVEL": "WARNING",
        # The job is timed on its own (job_disbursement): here it would pay the intake row's batches meanwhile.
        "DPI_PAYMENTS_BULK_INTERVAL_SECONDS": "0",
    }  # fmt: skip


# --- the rows -----------------------------------------------------------------------------------------------------


async def durable_floor(
    workers: int, operations: int, warmup: int, rows: int, notes: list[str], *, beneficiaries: int
) -> tuple[Result, CpuUse | None]:
    """The durable floor, served like the service, in a schema of its own named after the run's size (other scripts
    use bench_floor; two runs of this script at different sizes can share the machine)."""
    schema = f"bench_payments_floor_{beneficiaries}"
    await prepare_floor(POSTGRES_URL, rows, schema)
    rng = random.Random(11)
    env = {"DPI_BENCH_FLOOR_URL": POSTGRES_URL, "DPI_BENCH_FLOOR_SCHEMA": schema}
    with serve("benchmarks._floor:floor_app", env=env, workers=workers, ready_path="/ping",
               port=free_port_block(workers)) as served:  # fmt: skip
        floor: list[Request] = [
            json_request("POST", "/floor", {"sub": f"sub_{rng.randint(1, rows)}"}) for _ in range(operations + warmup)
        ]
        load = drive(f"baseline: durable floor (select + insert + commit, PostgreSQL), {workers} workers", served,
                     floor[warmup:], concurrency=IN_FLIGHT, warmup=floor[:warmup])  # fmt: skip
    return checked(load, (200,), [], notes), load.cpu


async def disbursement_rows(app: Any, beneficiaries: int, notes: list[str]) -> tuple[list[Result], dict[str, Any]]:
    """The raw SQL baseline and then the service's job, each paying every beneficiary on a batch of its own, with the
    CPU each took per item: this process (the job's Python) and the PostgreSQL backends of its connections."""
    sessionmaker = app.state.sessionmaker
    clock = time.perf_counter()
    timed: dict[str, float] = {}
    for label, batch_id in (("raw SQL", "bat_bench_raw"), ("the service's job", "bat_bench_job")):
        await new_batch(sessionmaker, batch_id, beneficiaries)
        await vacuum(sessionmaker, postgres=True)
        clock = progress(f"[PostgreSQL] batch for {label} created", clock)
        before = _cpu_ticks([os.getpid()])
        if batch_id == "bat_bench_raw":
            seconds = await raw_disbursement(sessionmaker, batch_id, programme_account())
        else:
            seconds = await job_disbursement(app, batch_id)
        cpu = _cpu_use(before, _cpu_ticks([os.getpid()]), 0.0, beneficiaries)
        paid_in_full(label, await batch_outcome(sessionmaker, batch_id), beneficiaries)
        clock = progress(f"[PostgreSQL] {label} paid {beneficiaries:,} in {seconds:.1f} s", clock)
        timed[label] = seconds
        if cpu is not None:  # "server" is this process here, the job's Python (or the raw SQL's driver)
            ms = cpu["per_request_ms"]
            notes.append(f"Disbursement, {label}: CPU ms per item: this process {ms['server']:.3f}, its PostgreSQL "
                         f"backends {ms['PostgreSQL']:.3f}; machine idle {cpu['idle_share']:.0%}.")  # fmt: skip
    raw_seconds, job_seconds = timed["raw SQL"], timed["the service's job"]
    chunk = app.state.payments.settings.bulk_chunk_size or CHUNK_DEFAULT
    results = [
        Result(f"baseline: raw set-based SQL paying {beneficiaries:,} items (one transaction)", beneficiaries,
               raw_seconds, [raw_seconds]),
        Result(f"PostgreSQL, 1 process: disbursement job, {beneficiaries:,} beneficiaries (mapping, per-item status, "
               f"chunks of {chunk:,})", beneficiaries, job_seconds, [job_seconds]),
    ]  # fmt: skip
    await vacuum(sessionmaker, postgres=True)
    return results, {"raw_seconds": raw_seconds, "job_seconds": job_seconds, "beneficiaries": beneficiaries}


async def postgres_rows(
    scratch: Path, store: ReplayStore, *, beneficiaries: int, workers: int, operations: int, transfers: int,
    intake_batches: int, warmup: int, notes: list[str], only: str | None = None, chunk: int | None = None,
) -> tuple[list[Result], dict[str, Any]]:  # fmt: skip
    schema = f"bench_payments_{beneficiaries}"
    settings = PaymentsSettings(
        _env_file=None, var_dir=scratch, database_url=POSTGRES_URL, database_schema=schema, replay_store=store,
        log_level="WARNING", expiry_interval_seconds=0, bulk_interval_seconds=0,
        **({"bulk_chunk_size": chunk} if chunk else {}),
    )  # fmt: skip
    await upgrade_service_database(settings, MIGRATIONS_DIR)
    app = create_app(settings)  # not started: its engine and its payee FSPs' secret (the served workers' key) only
    opened = open_resources(app)  # its database and runtime alone: no bus, outbox relay or timers
    sessionmaker = (await opened.__aenter__()).sessionmaker
    results: list[Result] = []
    figures: dict[str, Any] = {}
    clock = time.perf_counter()
    try:
        people, load_seconds = await prepare(sessionmaker, beneficiaries)
        print(f"[PostgreSQL] {people:,} beneficiaries with accounts and default links"
              + (f", loaded in {load_seconds:,.0f} s" if load_seconds else " (kept from an earlier run)"),
              flush=True)  # fmt: skip
        clock = progress("[PostgreSQL] beneficiaries ready", clock)
        if only == "load":
            notes.append(f"Loaded {people:,} beneficiaries into {schema}" + (
                f" in {load_seconds:,.0f} s" if load_seconds else " (kept from an earlier run)"))  # fmt: skip
            return results, figures
        await reset(sessionmaker, postgres=True)
        clock = progress("[PostgreSQL] emptied what the last run wrote", clock)
        await fund_programme(sessionmaker, 2 * beneficiaries * DISBURSED, "bench-funding")
        gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
        keys_dir = settings.resolved_keys_dir
        keys_dir.mkdir(parents=True, exist_ok=True)
        (keys_dir / "gateway.jwks.json").write_text(json.dumps(gateway.jwks))
        build = Requests(gateway, app.state.payments.payee_fsps, f"r{int(time.time())}")

        if only != "resolve":
            disbursed, disbursement = await disbursement_rows(app, beneficiaries, notes)
            results += disbursed
            figures.update(disbursement)
            clock = progress("[PostgreSQL] disbursement rows", clock)
        if only == "disbursement":
            return results, figures
        where = f"PostgreSQL, {workers} workers"

        rng = random.Random(2026)
        payers = rng.sample(range(0, beneficiaries, 3), transfers + warmup)  # bank-a customers, paid twice above
        payees = rng.sample(range(1, beneficiaries, 3), transfers + warmup)  # bank-b customers
        pairs = list(zip(payers, payees, strict=True))
        clock = progress("[PostgreSQL] vacuumed", clock)
        with serve(FACTORY, env=service_env(settings, store), workers=workers,
                   port=free_port_block(workers)) as served:  # fmt: skip
            clock = progress("[PostgreSQL] served", clock)
            noop_load = drive(f"{where}: GET /v1/caller (protected no-op)", served, build.caller(operations),
                              concurrency=IN_FLIGHT, warmup=build.caller(warmup))  # fmt: skip
            noop = checked(noop_load, (200,), results, notes)
            sample = rng.sample(range(beneficiaries), min(beneficiaries, operations + warmup))
            resolve = checked(
                drive(f"{where}: GET /v1/mapper/resolve ({people:,} links)", served, build.resolves(sample[warmup:]),
                      concurrency=IN_FLIGHT, warmup=build.resolves(sample[:warmup])),
                (200,), results, notes,
            )  # fmt: skip
            clock = progress("[PostgreSQL] no-op and resolve rows", clock)
            if only == "resolve":
                figures.update(noop=noop, resolve=resolve)
                return results, figures
            # The warm-up runs (and is counted in the check below) before the timed chains are built: on a loaded
            # machine, minting both sets, the warm-up one chain at a time and the timed run took longer than an
            # assertion lives (60 s), and the row ended in 401s.
            drive("transfers, warm-up", served, build.transfers(pairs[:warmup], "1.00"), concurrency=IN_FLIGHT)
            transfer_load = drive(f"{where}: two-phase transfer (prepare + fulfil, Idempotency-Key), per transfer",
                                  served, build.transfers(pairs[warmup:], "1.00"), concurrency=IN_FLIGHT)  # fmt: skip
            transfer = checked(transfer_load, (201, 200), results, notes)
            figures["cpu"] = {"noop": noop_load.cpu, "transfer": transfer_load.cpu}
            clock = progress("[PostgreSQL] transfer row", clock)
            in_flight = 2 * workers
            intake = checked(
                drive(f"{where}: POST /v1/bulk/batches ({INTAKE_ITEMS:,} items each), {in_flight} in flight", served,
                      build.batches(intake_batches, beneficiaries, "intake"), concurrency=in_flight),
                (202,), results, notes,
            )  # fmt: skip
        clock = progress("[PostgreSQL] intake row", clock)
        items = intake.count * INTAKE_ITEMS
        results.append(Result(f"{where}: bulk intake, items", items, intake.seconds, intake.latencies))
        figures.update(noop=noop, resolve=resolve, transfer=transfer, intake_items_per_second=items / intake.seconds)
        committed_sql = text("SELECT COUNT(*) FROM transfers WHERE state = 'committed' AND id LIKE :run")
        async with sessionmaker() as session:
            committed = (await session.execute(committed_sql, {"run": f"{build.run}-%"})).scalar_one()
        if committed != transfer.count + warmup:
            raise SystemExit(f"{committed} transfers committed, not {transfer.count + warmup}")
    finally:
        await opened.__aexit__(None, None, None)
    return results, figures


async def sqlite_rows(scratch: Path, items: int) -> tuple[list[Result], float]:
    """The 100,000-item batch on SQLite: the service's job (one process, the single writer) and the plain SQL."""
    settings = PaymentsSettings(_env_file=None, var_dir=scratch, log_level="WARNING", expiry_interval_seconds=0,
                                bulk_interval_seconds=0)  # fmt: skip
    await upgrade_service_database(settings, MIGRATIONS_DIR)
    app = create_app(settings)
    opened = open_resources(app)  # its database and runtime alone: no bus, outbox relay or timers
    sessionmaker = (await opened.__aenter__()).sessionmaker
    try:
        await prepare(sessionmaker, items)
        await fund_programme(sessionmaker, 2 * items * DISBURSED, "bench-funding")
        await new_batch(sessionmaker, "bat_bench_raw", items)
        raw_seconds = await raw_disbursement(sessionmaker, "bat_bench_raw", programme_account())
        paid_in_full("raw SQL (SQLite)", await batch_outcome(sessionmaker, "bat_bench_raw"), items)
        await new_batch(sessionmaker, "bat_bench_job", items)
        worker = BulkWorker(sessionmaker, app.state.payments)
        started = time.perf_counter()
        await worker.run_once()
        job_seconds = time.perf_counter() - started
        paid_in_full("the service's job (SQLite)", await batch_outcome(sessionmaker, "bat_bench_job"), items)
    finally:
        await opened.__aexit__(None, None, None)
    return [
        Result(f"SQLite baseline: raw set-based SQL paying {items:,} items", items, raw_seconds, [raw_seconds]),
        Result(f"SQLite, 1 process: disbursement job, {items:,} items", items, job_seconds, [job_seconds]),
    ], job_seconds


def transfer_bound(cpu: dict[str, CpuUse | None]) -> str | None:
    """What the floor's ratio could be at best: a transfer is two protected requests, each costing the machine at
    least what the protected no-op does (HTTP, the gateway assertion verified and its replay checked), plus its own
    statements' PostgreSQL work; the rows keep the machine busy, so their rates go as the inverse of the CPU each
    costs the whole machine (server, PostgreSQL, Redis and the driver)."""
    floor, noop, transfer = cpu.get("floor"), cpu.get("noop"), cpu.get("transfer")
    if floor is None or noop is None or transfer is None:
        return None
    floor_ms, noop_ms = sum(floor.per_request_ms.values()), sum(noop.per_request_ms.values())
    database_ms = transfer.per_request_ms["PostgreSQL"]
    least = 2 * noop_ms + database_ms
    busiest = max(floor.idle_share, noop.idle_share, transfer.idle_share)
    return (
        f"Bound on the transfer target: a floor request costs the machine {floor_ms:.2f} ms of CPU (all processes); "
        f"a transfer is two protected requests, at least the no-op's {noop_ms:.2f} ms each, and its statements' "
        f"PostgreSQL work, {database_ms:.2f} ms: {least:.2f} ms with no service code at all, so at most "
        f"{floor_ms / least:.0%} of the floor's rate (the three rows left the machine at most {busiest:.0%} idle). "
        f"The service's own code took the other {sum(transfer.per_request_ms.values()) - least:.2f} ms."
    )


def progress(what: str, since: float) -> float:
    now = time.perf_counter()
    print(f"[{now - since:6.1f} s] {what}", flush=True)
    return now


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


async def main(quick: bool, size: int | None = None, only: str | None = None, chunk: int | None = None) -> None:
    beneficiaries = size or (10_000 if quick else 1_000_000)
    operations = 500 if quick else 10_000
    transfers = 300 if quick else 5_000
    intake_batches = 4 if quick else 30
    warmup = 20 if quick else 200
    sqlite_items = 5_000 if quick else 100_000
    workers = os.cpu_count() or 1
    started_at = datetime.now().astimezone()
    disbursement_note = (
        "The disbursement rows time a stored batch being paid; their per second is items per second. The job is the "
        "service's own (BulkWorker.run_once, what each served worker's timer runs) in this process: it pays chunks "
        f"of {chunk or CHUNK_DEFAULT:,} items a transaction on PostgreSQL (5,000 on SQLite), each chunk locked, "
        "resolved through the mapper, posted, credited, its items' statuses set and the chunk signed (SG-AUDIT-2); a "
        "batch's chunks run one at a time whatever the number of workers (each locks the batch). The baseline runs "
        "the same inserts and updates as plain SQL over the whole batch in one transaction, unsigned. Both batches "
        "were checked afterwards: every item paid, one posting each."
    )
    notes = [disbursement_note] if only in (None, "disbursement") else []
    if only is None:
        notes[:0] = [
            f"uvicorn (httptools, uvloop), {workers} worker processes (one per core), each on its own port; the "
            f"load driver is another process on the same cores, keeping {IN_FLIGHT} requests (or transfers) in "
            "flight unless a row says otherwise. Gateway assertions were signed before each timed run, as the "
            "gateway would have.",
            "A transfer is the payer FSP's prepare (201) and then the payee FSP's fulfil (200) on one connection, "
            "each with its own Idempotency-Key: its n and per second count transfers (twice as many requests), its "
            "latency is both. Each prepares and commits 1.00 USD between two customers (bank-a to bank-b, no two "
            "alike).",
            "Bulk intake posts JSON batches of 10,000 items (the service's default 1 MiB body limit); each is "
            "validated, stored with its items and its signed initiation record, and answered 202; the job is off "
            "meanwhile.",
        ]
    results: list[Result] = []
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        clock = time.perf_counter()
        sqlite_seconds = None
        if only is None:
            sqlite_results, sqlite_seconds = await sqlite_rows(Path(scratch) / "sqlite", sqlite_items)
            results += sqlite_results
            clock = progress("[SQLite] rows", clock)
        if only is not None and await postgres_reachable():
            # The resolve rows are served as deployed (the replay store in Redis), like the full run's.
            served = ReplayStore.redis if only == "resolve" and await redis_reachable() else ReplayStore.memory
            pg_results, figures = await postgres_rows(
                Path(scratch) / "pg", served, beneficiaries=beneficiaries, workers=workers,
                operations=operations, transfers=transfers, intake_batches=intake_batches, warmup=warmup, notes=notes,
                only=only, chunk=chunk,
            )  # fmt: skip
            results += pg_results
        elif await postgres_reachable():
            store = ReplayStore.redis if await redis_reachable() else ReplayStore.database
            if store is ReplayStore.database:
                notes.append(f"Redis at {REDIS_URL} was not reachable: the workers share the database replay store.")
            floor, floor_cpu = await durable_floor(
                workers, operations, warmup, 100_000 if quick else FLOOR_ROWS, notes, beneficiaries=beneficiaries
            )
            results.append(floor)
            progress("baseline rows", clock)
            pg_results, figures = await postgres_rows(
                Path(scratch) / "pg", store, beneficiaries=beneficiaries, workers=workers, operations=operations,
                transfers=transfers, intake_batches=intake_batches, warmup=warmup, notes=notes, chunk=chunk,
            )  # fmt: skip
            results += pg_results
            figures["floor"] = floor
            figures.setdefault("cpu", {})["floor"] = floor_cpu
        else:
            notes.append(f"PostgreSQL at {POSTGRES_URL} was not reachable: its rows are missing from this run.")
    if sqlite_seconds is not None:
        notes.append(f"SQLite: the job paid {sqlite_items:,} items in {sqlite_seconds:.1f} s.")
    if "job_seconds" in figures:
        raw_share = figures["raw_seconds"] / figures["job_seconds"]
        job_seconds = figures["job_seconds"]
        size = "" if figures["beneficiaries"] == 1_000_000 else f" (at {figures['beneficiaries']:,})"
        notes.append(
            f"Target {TARGETS['disbursement']}{size}: {job_seconds:.1f} s, {raw_share:.0%} of the raw SQL's rate "
            f"({figures['raw_seconds']:.1f} s): {verdict(job_seconds < 60 and raw_share >= 0.40)}."
        )
    if "transfer" in figures:
        floor, transfer = figures["floor"], figures["transfer"]
        transfer_share = transfer.per_second / floor.per_second
        p99 = transfer.percentile(0.99)
        intake_rate = figures["intake_items_per_second"]
        notes += [
            f"Target {TARGETS['transfers']}: {transfer.per_second:,.0f} transfers/s = {transfer_share:.0%} of the "
            f"floor's {floor.per_second:,.0f} requests/s, p99 {p99:.1f} ms: "
            f"{verdict(transfer_share >= 0.35 and p99 < 50)}.",
            f"Target {TARGETS['intake']}: {intake_rate:,.0f} items/s: {verdict(intake_rate >= 6_250)}.",
        ]
        if bound := transfer_bound(figures.get("cpu", {})):
            notes.append(bound)
    if "resolve" in figures:
        resolve_share = figures["resolve"].per_second / figures["noop"].per_second
        notes.append(f"Target {TARGETS['resolve']}: {resolve_share:.0%}: {verdict(resolve_share >= 0.70)}.")
    load = os.getloadavg()
    notes.append(f"Started {started_at:%Y-%m-%d %H:%M %Z}; load average at the end {load[0]:.2f} {load[1]:.2f} "
                 f"{load[2]:.2f} on {workers} cores.")  # fmt: skip
    title = "Payments over HTTP" + (" (--quick)" if quick else "") + (f" (--only {only})" if only else "")
    report(title, results, notes)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke-size run (under a minute), same figures")
    parser.add_argument("--size", type=int, default=None,
                        help="beneficiaries on PostgreSQL (default 1,000,000; --quick: 10,000), kept in "
                             "bench_payments_<size>")  # fmt: skip
    parser.add_argument("--only", choices=("disbursement", "load", "resolve"), default=None,
                        help="disbursement: only the PostgreSQL raw SQL and job rows (no SQLite, no HTTP rows); "
                             "load: only load the beneficiaries (kept for later runs); resolve: only the served "
                             "protected no-op and resolve rows")  # fmt: skip
    parser.add_argument("--chunk", type=int, default=None, help="the job's items per transaction (bulk_chunk_size)")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_arguments()
    asyncio.run(main(args.quick, size=args.size, only=args.only, chunk=args.chunk))

"""The audit log: appends per second (group commit against one transaction per event), proof generation at size,
and offline verification of an export.

- Appends, on PostgreSQL and SQLite: `AuditLog.append` from many concurrent tasks with group commit (each caller
  answered after its batch commits), the same unbatched (one transaction per event, a row lock on the tree head
  each time), and the baseline: a plain batched INSERT of the very same rows (read back from the log) into an
  identical table, in the same run, with no Merkle work, no head lock and no waiting callers.
- Proofs at 1,000,000 events (PostgreSQL; with --quick 20,000): inclusion proofs of random entries and consistency
  proofs from random sizes to the head, each read from the stored interior hashes (O(log n) rows), p50/p99.
- Offline verification: `verify_export` over an export file of all 1,000,000 entries (every leaf hash, the whole
  tree, the checkpoints and cosignatures), as `dpi-sandbox audit verify` runs it.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks._common import POSTGRES_URL, Result, arguments, drop_postgres_schema, postgres_reachable, report
from gateway.audit.events import AuditEvent
from gateway.audit.export import export_lines, verify_export
from gateway.audit.log import AuditLog, bulk_insert
from gateway.audit.models import AUDIT_TABLES
from gateway.audit.note import ALG_COSIGNATURE_V1, NoteSigner
from gateway.audit.witness import Witness
from gateway.db import metadata
from services.common.clock import SystemClock
from services.common.db import create_all, create_engine

CONCURRENCY = 1000  # requests in flight at the gateway, each waiting for its audit event to be committed
UNBATCHED_CONCURRENCY = 16
SAMPLES = 1000
CPU_US: dict[str, float] = {}  # this process's CPU per event in each timed append row (PostgreSQL's not included)


def event(i: int) -> AuditEvent:
    return AuditEvent(
        decision="permit" if i % 7 else "deny",
        actor=f"client-{i % 50}",
        actor_type="organisation",
        sub=f"sub-{i % 10_000:05d}",
        action="GET /v1/persons/{sub}",
        purpose="kyc",
        legal_basis="consent",
        consent_id=f"cns-{i % 977}",
        fields_returned=("name", "birth_date"),
        rule_ids=("SG-CONSENT-1",) if i % 7 else ("SG-PURPOSE-1",),
        channel="web",
        status=200 if i % 7 else 403,
        request_id=f"req-{i}",
    )


async def fresh(backend: str, name: str, workdir: Path) -> AsyncEngine:
    if backend == "postgresql":
        schema = f"bench_audit_{name}"
        await drop_postgres_schema(schema)
        engine = create_engine(POSTGRES_URL, schema=schema)
    else:
        engine = create_engine(f"sqlite+aiosqlite:///{workdir / (name + '.db')}")
    await create_all(engine, metadata, f"bench_audit_{name}" if backend == "postgresql" else None)
    return engine


def new_log(engine: AsyncEngine, *, batched: bool, witness: bool = False) -> AuditLog:
    signer = NoteSigner("bench.example/audit", Ed25519PrivateKey.generate())
    w = Witness(NoteSigner("bench.example/witness", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1),
                signer.verifier, signer.name) if witness else None  # fmt: skip
    return AuditLog(engine, AUDIT_TABLES, SystemClock(), signer=signer, witness=w, batched=batched)


async def appends(log: AuditLog, label: str, count: int, concurrency: int) -> Result:
    events = [event(i) for i in range(count)]
    latencies: list[float] = []
    next_event = 0

    async def worker() -> None:
        nonlocal next_event
        while next_event < count:
            item = events[next_event]
            next_event += 1
            started = time.perf_counter()
            await log.append(item)
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    CPU_US[label] = (time.process_time() - cpu) * 1e6 / count
    return Result(label, count, time.perf_counter() - started, latencies)


async def plain_insert(source: AsyncEngine, target: AsyncEngine, label: str, batch: int) -> Result:
    """The same rows the log wrote, written again in plain batches with the same bulk method the log uses (COPY
    on PostgreSQL, executemany INSERT on SQLite): the floor for any durable log of these rows."""
    async with source.connect() as conn:
        rows = [tuple(r) for r in await conn.execute(select(AUDIT_TABLES.events).order_by("idx"))]
        rules = [tuple(r) for r in await conn.execute(select(AUDIT_TABLES.rules))]
    rules_by_idx: dict[int, list[tuple[Any, ...]]] = {}
    for rule in rules:
        rules_by_idx.setdefault(rule[1], []).append(rule)
    latencies: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, len(rows), batch):
        chunk = rows[offset : offset + batch]
        t0 = time.perf_counter()
        async with target.begin() as conn:
            await bulk_insert(conn, AUDIT_TABLES.events, chunk)
            chunk_rules = [r for row in chunk for r in rules_by_idx.get(row[0], [])]
            if chunk_rules:
                await bulk_insert(conn, AUDIT_TABLES.rules, chunk_rules)
        latencies.append(time.perf_counter() - t0)
    CPU_US[label] = (time.process_time() - cpu) * 1e6 / len(rows)
    return Result(label, len(rows), time.perf_counter() - started, latencies)


async def fill(log: AuditLog, count: int) -> None:
    done = 0
    while done < count:
        size = min(5000, count - done)
        await log.append_many([event(done + i) for i in range(size)])
        done += size


async def proofs(log: AuditLog, size: int, label: str) -> list[Result]:
    rng = random.Random(6962)
    inclusion: list[float] = []
    for _ in range(SAMPLES):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        await log.inclusion(index, size)
        inclusion.append(time.perf_counter() - t0)
    consistency: list[float] = []
    for _ in range(SAMPLES):
        old = rng.randrange(1, size)
        t0 = time.perf_counter()
        await log.consistency(old, size)
        consistency.append(time.perf_counter() - t0)
    return [
        Result(f"{label}: inclusion proof, tree of {size:,}", SAMPLES, sum(inclusion), inclusion),
        Result(f"{label}: consistency proof to {size:,}", SAMPLES, sum(consistency), consistency),
    ]


async def verification(log: AuditLog, workdir: Path, size: int) -> tuple[Result, int]:
    path = workdir / "export.jsonl"
    with path.open("wb") as handle:
        async for chunk in export_lines(log):
            handle.write(chunk)
    witnesses = [log.witness.signer.verifier] if log.witness else []
    t0 = time.perf_counter()
    with path.open("rb") as lines:
        outcome = verify_export(lines, log.log_key, witnesses)
    seconds = time.perf_counter() - t0
    if not outcome.ok or outcome.entries != size:
        raise SystemExit(f"the benchmark's own export does not verify: {outcome.summary()}")
    return Result(f"offline verification of {size:,} entries (one run)", size, seconds, [seconds]), path.stat().st_size


async def main() -> None:
    args = arguments(__doc__ or "")
    quick = args.quick
    n_pg, n_sqlite = (20_000, 10_000) if quick else (200_000, 50_000)
    n_unbatched = 1_000 if quick else 5_000
    n_big = 20_000 if quick else 1_000_000
    results: list[Result] = []
    notes: list[str] = []
    backends = ["postgresql", "sqlite"] if await postgres_reachable() else ["sqlite"]
    if "postgresql" not in backends:
        notes.append("PostgreSQL was not reachable: its rows are missing.")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ratios = []
        for backend in backends:
            n = n_pg if backend == "postgresql" else n_sqlite
            engine = await fresh(backend, "batched", workdir)
            log = new_log(engine, batched=True)
            await log.start()
            batched = await appends(log, f"{backend}: append, group commit, {CONCURRENCY} in flight", n, CONCURRENCY)
            await log.stop()
            baseline_engine = await fresh(backend, "plain", workdir)
            plain = await plain_insert(engine, baseline_engine, f"{backend}: plain batched INSERT, same rows", 2000)
            unbatched_engine = await fresh(backend, "unbatched", workdir)
            slow = new_log(unbatched_engine, batched=False)
            await slow.start()
            single = await appends(
                slow, f"{backend}: append, one transaction each, {UNBATCHED_CONCURRENCY} in flight",
                n_unbatched, UNBATCHED_CONCURRENCY,
            )  # fmt: skip
            results += [batched, plain, single]
            share, speedup = batched.per_second / plain.per_second, batched.per_second / single.per_second
            ratios.append(
                f"{backend}: group commit reaches {share:.0%} of the plain-insert rate, {speedup:.0f}x unbatched; "
                f"CPU of this process per event {CPU_US[batched.name]:.1f} µs appending, "
                f"{CPU_US[plain.name]:.1f} µs for the plain insert (the database's own CPU not included)"
            )
            for e in (engine, baseline_engine, unbatched_engine):
                await e.dispose()
        notes += ratios
        backend = backends[0]
        engine = await fresh(backend, "big", workdir)
        log = new_log(engine, batched=False, witness=True)
        await log.start()
        t0 = time.perf_counter()
        await fill(log, n_big)
        notes.append(f"{backend}: {n_big:,} events loaded with append_many in {time.perf_counter() - t0:.1f} s")
        await log.publish_checkpoint()
        results += await proofs(log, n_big, backend)
        verified, size_bytes = await verification(log, workdir, n_big)
        results.append(verified)
        notes.append(f"the export file of {n_big:,} entries is {size_bytes / 2**20:.0f} MiB; verification "
                     f"{verified.seconds:.2f} s ({n_big / verified.seconds:,.0f} entries/s)")  # fmt: skip
        await log.stop()
        await engine.dispose()
        for name in ("batched", "plain", "unbatched", "big"):
            if "postgresql" in backends:
                await drop_postgres_schema(f"bench_audit_{name}")
    notes.append("Targets: >= 20,000 appends/s batched on PostgreSQL, >= half the plain-INSERT rate, 1M-entry "
                 "verification under 5 s. Event loop: uvloop, as the gateway runs under uvicorn. "
                 f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")  # fmt: skip
    report("Audit log", results, notes)


if __name__ == "__main__":
    try:  # the event loop the gateway's audit writer runs on as deployed (uvicorn picks uvloop where installed)
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(main())

"""Many writers at once: every event gets exactly one index, the indexes are gap-free, the log verifies."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.app import AUDIT_TABLES
from gateway.audit.export import export_lines, verify_export
from gateway.audit.log import AuditLog
from tests.gateway.audit.conftest import make_event


async def _verified(log, expected: int) -> None:
    async with log.engine.connect() as conn:
        rows = (await conn.execute(select(func.count(), func.count(func.distinct(AUDIT_TABLES.events.c.event_id)))
                                   .select_from(AUDIT_TABLES.events))).one()  # fmt: skip
        request_ids = (await conn.execute(select(AUDIT_TABLES.events.c.leaf))).scalars().all()
    assert rows == (expected, expected)
    assert len({json.loads(leaf)["record"]["request_id"] for leaf in request_ids}) == expected  # none lost or doubled
    lines = b"".join([chunk async for chunk in export_lines(log)]).splitlines(keepends=True)
    report = verify_export(lines, log.log_key, [log.witness.signer.verifier])
    assert report.ok and report.entries == expected, report.summary()


@pytest.mark.rule("SG-AUDIT-1")
async def test_ten_thousand_events_from_two_hundred_tasks(gateway_app):
    log = gateway_app.app.state.audit

    async def task(n: int) -> list[int]:
        return [(await log.append(make_event(request_id=f"t{n}-{i}"))).index for i in range(50)]

    results = await asyncio.gather(*(task(n) for n in range(200)))
    indexes = sorted(i for r in results for i in r)
    assert indexes == list(range(10_000))
    for r in results:
        assert r == sorted(r)  # one task's appends keep their order
    await _verified(log, 10_000)


@pytest.mark.rule("SG-AUDIT-1")
async def test_two_writers_on_one_database_stay_gap_free(gateway_app):
    """Two logs on one database, as two replicas are: each numbers its next batch from the head its own last batch
    left, finds again and again that the other moved the head first, and numbers it again under the lock."""
    first = gateway_app.app.state.audit
    second = AuditLog(first.engine, first.tables, first.clock, signer=first.signer, witness=first.witness)
    await second.start()

    async def task(log: AuditLog, tag: str) -> list[int]:
        return [(await log.append(make_event(request_id=f"{tag}-{i}"))).index for i in range(20)]

    try:
        results = await asyncio.gather(*(task(log, f"{n}{name}") for n in range(100) for name, log in
                                         (("a", first), ("b", second))))  # fmt: skip
    finally:
        await second.stop()
    given = [sorted(i for r in results[k::2] for i in r) for k in (0, 1)]
    assert sorted(given[0] + given[1]) == list(range(4000))
    assert min(given[0]) < max(given[1]) and min(given[1]) < max(given[0])  # they really took turns
    await _verified(first, 4000)


@pytest.mark.rule("SG-AUDIT-1")
async def test_every_caller_is_answered_only_once_its_event_is_committed(gateway_app):
    log = gateway_app.app.state.audit
    events = AUDIT_TABLES.events

    async def task(n: int) -> int:
        appended = await log.append(make_event(request_id=f"r{n}"))
        async with log.engine.connect() as conn:  # a connection of its own: it sees committed rows only
            query = select(func.count()).select_from(events).where(events.c.idx == appended.index)
            return int((await conn.execute(query)).scalar_one())

    assert await asyncio.gather(*(task(n) for n in range(400))) == [1] * 400


async def test_a_failed_batch_leaves_the_batch_behind_it_whole(gateway_app):
    """400 appends at once go as two batches, the second numbered from the head the first would leave. The first
    fails (an event id is taken): the second finds the head unmoved and is numbered again, still gap-free."""
    log = gateway_app.app.state.audit
    await log.append(make_event(event_id="evt_taken"))
    events = [make_event(request_id=f"r{i}") for i in range(400)]
    events[10] = make_event(event_id="evt_taken")
    outcomes = await asyncio.gather(*(log.append(event) for event in events), return_exceptions=True)
    assert isinstance(outcomes[10], IntegrityError)
    assert sorted(o.index for o in outcomes if not isinstance(o, BaseException)) == list(range(1, 400))
    await _verified(log, 400)


@pytest.mark.slow
@pytest.mark.rule("SG-AUDIT-1")
async def test_two_gateway_processes_share_one_log_on_postgresql(gateway_app, db_backend, tmp_path):
    if db_backend != "postgresql":
        pytest.skip("several gateway processes share one log through PostgreSQL; SQLite is one process's file")
    settings = gateway_app.settings
    env = {
        **os.environ,
        "DPI_GATEWAY_DATABASE_URL": settings.resolved_database_url,
        "DPI_GATEWAY_DATABASE_SCHEMA": settings.resolved_schema or "",
        "DPI_GATEWAY_VAR_DIR": str(settings.var_dir),
        "DPI_GATEWAY_AUDIT_CHECKPOINT_SECONDS": "0.2",  # both publish checkpoints (and witness them) meanwhile
    }
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.gateway.audit.appender",
            "100",
            "50",
            tag,
            str(barrier),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for tag in ("a", "b")
    ]
    outputs = [await p.communicate() for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()[-2000:]
    given = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    assert sorted(given[0] + given[1]) == list(range(10_000))
    assert not set(given[0]) & set(given[1])
    assert min(given[0]) < max(given[1]) and min(given[1]) < max(given[0])  # they really wrote at the same time
    log = gateway_app.app.state.audit
    await _verified(log, 10_000)
    assert await log.refusals() == []  # concurrent checkpoints from two processes are never mistaken for a fork

"""A 100,000-item batch paid by a worker process that is killed with SIGKILL midway, then restarted: every item
is paid exactly once, none is lost, and the books balance."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from services.payments.bulk.synthetic import create_batch, load_beneficiaries

ITEMS = 100_000
UNLINKED = 1_000  # the last thousand have no account: they must end failed, not lost
ROOT = Path(__file__).resolve().parents[3]


async def _scalar(svc, sql: str) -> int:  # type: ignore[no-untyped-def]
    async with svc.app.state.sessionmaker() as session:
        return int((await session.execute(text(sql))).scalar_one() or 0)


def _start(svc, **crash: str) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    settings = svc.settings
    env = {**os.environ, **crash, "DPI_PAYMENTS_DATABASE_URL": settings.resolved_database_url,
           "DPI_PAYMENTS_DATABASE_SCHEMA": settings.resolved_schema, "DPI_PAYMENTS_VAR_DIR": str(settings.var_dir),
           "DPI_PAYMENTS_BULK_CHUNK_SIZE": "2000", "DPI_PAYMENTS_REPLAY_STORE": "memory"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "tests.payments.bulk.crash_worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


async def _wait_for(svc, sql: str, done, process, seconds: float = 300) -> int:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await _scalar(svc, sql)
        if done(value):
            return value
        assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else "worker died"
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting on {sql}")


async def test_a_killed_batch_resumes_and_pays_everyone_exactly_once(payments, api):
    now = payments.app.state.clock.now()
    programme = await api.open_account("central-bank", kind="programme", owner="prog-crash", address="prog-crash")
    await api.fund(programme["id"], "1000000.00")
    async with payments.app.state.sessionmaker() as session, session.begin():
        await load_beneficiaries(session, prefix="crash", first=0, last=ITEMS - UNLINKED - 1, currency="USD", now=now)
        await create_batch(session, batch_id="bat_crash", programme="prog-crash", source_account_id=programme["id"],
                           prefix="crash", count=ITEMS, amount=250, currency="USD", now=now)  # fmt: skip
    progress = "SELECT processed_through FROM batches WHERE id = 'bat_crash'"

    marker = Path(payments.settings.var_dir) / "crash.marker"
    first = _start(payments, CRASH_AFTER_ITEMS="20000", CRASH_MARKER=str(marker))
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():  # the worker is inside a chunk's open transaction past 20,000 items
            assert first.poll() is None, first.stderr.read().decode()[-2000:] if first.stderr else "worker died"
            assert time.monotonic() < deadline, "the worker never reached 20,000 items"
            await asyncio.sleep(0.02)
        reached = int(marker.read_text().split()[0])  # no database read while the worker holds its transaction
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    stopped_at = await _scalar(payments, progress)
    assert 20_000 <= stopped_at < ITEMS, (reached, stopped_at)  # killed midway, not after the end

    second = _start(payments)
    try:
        await _wait_for(payments, "SELECT COUNT(*) FROM batches WHERE id = 'bat_crash' AND state = 'completed'",
                        lambda n: n == 1, second)  # fmt: skip
    finally:
        second.send_signal(signal.SIGKILL)
        second.wait()

    paid = await _scalar(payments, "SELECT COUNT(*) FROM batch_items WHERE status = 'paid'")
    failed = await _scalar(
        payments, "SELECT COUNT(*) FROM batch_items WHERE status = 'failed' AND reason = 'unresolved'"
    )
    assert (paid, failed) == (ITEMS - UNLINKED, UNLINKED)
    assert await _scalar(payments, "SELECT COUNT(*) FROM postings WHERE code = 'disbursement'") == paid
    # Exactly once per person: every linked beneficiary's account holds one payment, no more, no less.
    assert (
        await _scalar(payments, "SELECT COUNT(*) FROM accounts WHERE owner_ref LIKE 'crash-%' AND balance <> 250") == 0
    )
    assert await _scalar(payments, "SELECT paid_count FROM batches WHERE id = 'bat_crash'") == paid
    assert await api.balance(programme["id"]) == f"{1_000_000 - paid * 2.5:.2f}"
    assert (await api.check())["balanced"] is True

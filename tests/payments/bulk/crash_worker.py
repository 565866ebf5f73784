"""Run the payments service's bulk worker until killed (the crash test starts this and kill -9s it midway).

Settings come from the environment (DPI_PAYMENTS_DATABASE_URL, _DATABASE_SCHEMA, _VAR_DIR, _BULK_CHUNK_SIZE). With
CRASH_AFTER_ITEMS=N and CRASH_MARKER=path, once N items of the batch are done the worker starts the next chunk,
writes its payments inside the open transaction, creates the marker file and waits there to be killed: the crash
lands mid-transaction, deterministically, however fast the machine is.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import text

from services.payments.app import create_app
from services.payments.bulk.service import bulk as bulk_service
from services.payments.config import PaymentsSettings

BATCH = "bat_crash"


async def main() -> None:
    # No background loop: this process runs the chunks itself, one at a time, so it can stop inside one.
    settings = PaymentsSettings(bulk_interval_seconds=0, expiry_interval_seconds=0, seed_simulated_network=False)
    crash_after = int(os.environ.get("CRASH_AFTER_ITEMS", "0"))
    marker = Path(os.environ.get("CRASH_MARKER", "crash.marker"))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        sessionmaker, worker, rt = app.state.sessionmaker, app.state.bulk_worker, app.state.payments
        while True:
            if crash_after:
                async with sessionmaker() as session:
                    done = (
                        await session.execute(text("SELECT processed_through FROM batches WHERE id = :b"), {"b": BATCH})
                    ).scalar_one_or_none() or 0
                if done >= crash_after:
                    async with sessionmaker() as session, session.begin():
                        await bulk_service.run_chunk(session, BATCH, rt=rt)
                        # The committed progress, for the test to read (SQLite: no one else may take a lock now).
                        # Written whole under another name, then renamed: the test polls for the marker and reads
                        # it at once, and would otherwise see a file created but not yet written.
                        partial = marker.with_name(marker.name + ".partial")
                        await asyncio.to_thread(partial.write_text, f"{done} items committed; inside a chunk\n")
                        await asyncio.to_thread(os.replace, partial, marker)
                        await asyncio.Event().wait()  # killed here, before the commit
            if not await worker.run_once(max_chunks=1):
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())

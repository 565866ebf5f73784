"""Run the payments service's bulk worker until killed (the crash test starts this and kill -9s it midway).

Settings come from the environment (DPI_PAYMENTS_DATABASE_URL, _DATABASE_SCHEMA, _VAR_DIR, _BULK_CHUNK_SIZE).
"""

from __future__ import annotations

import asyncio

from services.payments.app import create_app
from services.payments.config import PaymentsSettings


async def main() -> None:
    settings = PaymentsSettings(bulk_interval_seconds=0.05, expiry_interval_seconds=0, seed_simulated_network=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        while True:
            await app.state.bulk_worker.run_once()
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())

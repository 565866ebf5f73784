"""A gateway process that appends audit events: `python -m tests.gateway.audit.appender TASKS PER_TASK TAG BARRIER`.

Settings come from the environment (DPI_GATEWAY_*), as for any gateway process. Once started it writes
BARRIER/TAG and waits until BARRIER holds PEERS files, so the processes append at the same time; prints the
indexes it was given.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.gateway.audit.conftest import make_event

PEERS = 2


def _wait_for_peers(barrier: Path) -> None:
    while len(list(barrier.iterdir())) < PEERS:
        time.sleep(0.01)


async def main(tasks: int, per_task: int, tag: str, barrier: Path) -> None:
    app = create_app(GatewaySettings())
    async with app.router.lifespan_context(app):
        log = app.state.audit
        (barrier / tag).touch()
        await asyncio.to_thread(_wait_for_peers, barrier)

        async def worker(n: int) -> list[int]:
            return [(await log.append(make_event(request_id=f"{tag}-{n}-{i}"))).index for i in range(per_task)]

        results = await asyncio.gather(*(worker(n) for n in range(tasks)))
    print(json.dumps(sorted(i for r in results for i in r)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))

"""`make demo`: serve the embedded sandbox, run the demo scenario narrated, write its report, then keep serving.

The demo scenario is the playbook's social cash transfer (scenario 1), end to end.
Without a terminal on stdin (CI) or with --once, the demo exits after the report.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from dpi_sandbox.registry import ALL
from playbook.loader import load_all
from playbook.sandbox import remote, run_scenario

DEMO_SCENARIO = "social-cash-transfer"


def quiet_logs() -> dict[str, dict[str, Any]]:
    """Settings overrides that keep request logs out of the narration, for each app whose LOG_LEVEL the environment
    does not set (the environment still wins)."""
    return {
        entry.name: {"log_level": "WARNING"} for entry in ALL if f"DPI_{entry.name.upper()}_LOG_LEVEL" not in os.environ
    }


def _seconds_since_make() -> float | None:
    """Seconds since `make demo` started (it passes the time in DPI_DEMO_STARTED_AT), if it did."""
    try:
        return time.time() - float(os.environ["DPI_DEMO_STARTED_AT"])
    except (KeyError, ValueError):
        return None


async def run_demo(*, host: str, port: int, once: bool, var_dir: Path, console: Console) -> int:
    started = time.monotonic()
    quiet = quiet_logs()
    settings = all_settings(var_dir, quiet)
    console.print(f"[bold]DPI reference sandbox[/] (embedded mode, SQLite under {var_dir}/)")
    await upgrade_all(settings)
    app = build_embedded(var_dir=var_dir, overrides=quiet)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            console.print(f"[red]could not serve on {host}:{port}[/]")
            return 1
        await asyncio.sleep(0.05)
    base_url = f"http://{host}:{port}"
    async with remote(base_url) as client:
        result, paths = await run_scenario(
            DEMO_SCENARIO,
            client,
            console=console,
            reports_dir=var_dir / "reports",
            var_dir=var_dir,
            mode="embedded, over HTTP",
        )
    others = ", ".join(name for name in load_all() if name != DEMO_SCENARIO) or "none yet"
    console.print(f"\nReport: {paths['md']} (and {paths['html'].name}, {paths['json'].name} beside it)")
    console.print(f"OpenAPI docs: {base_url}/docs")
    console.print(f"Other scenarios ({others}): dpi-sandbox playbook run NAME")
    console.print(f"From start to report: {time.monotonic() - started:.1f} s")
    since_make = _seconds_since_make()
    if since_make is not None:
        console.print(f"From `make demo` to report (venv included): {since_make:.1f} s")
    if once or not sys.stdin.isatty():
        server.should_exit = True
        await serving
        return 0 if result.ok else 1
    console.print(f"Serving at {base_url}. Press Ctrl-C to stop.")
    await serving
    return 0 if result.ok else 1

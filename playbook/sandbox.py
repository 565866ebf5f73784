"""Where a scenario runs: the embedded sandbox in this process (the default), or any sandbox at a URL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from rich.console import Console

from playbook.credentials import ClientCredentials
from playbook.loader import load_all
from playbook.model import Language, Step
from playbook.report import Report
from playbook.runner import RunResult, run

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@asynccontextmanager
async def embedded(var_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The whole sandbox in this process (migrations applied first), reached in memory through the gateway."""
    from dpi_sandbox.demo import quiet_logs
    from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all

    # Quieter request logs through settings, not the process environment, which outlives this sandbox (tests).
    quiet = quiet_logs()
    await upgrade_all(all_settings(var_dir, quiet))
    app = build_embedded(var_dir=var_dir, overrides=quiet)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", timeout=TIMEOUT) as client:
            yield client


@asynccontextmanager
async def remote(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        yield client


async def _wait_for_enter(step: Step) -> None:
    await asyncio.to_thread(input, "  (workshop) press Enter for the next step ")


async def run_scenario(
    name: str,
    client: httpx.AsyncClient,
    *,
    console: Console,
    reports_dir: Path,
    var_dir: Path,
    mode: str,
    language: Language = "en",
    workshop: bool = False,
) -> tuple[RunResult, dict[str, Path]]:
    """Load (all files are validated first, so nothing half-runs), run, and write the report."""
    scenarios = load_all()
    if name not in scenarios:
        raise KeyError(f"no scenario {name!r}; there are: {', '.join(sorted(scenarios))}")
    pause = _wait_for_enter if workshop and sys.stdin.isatty() else None
    credentials = ClientCredentials.for_sandbox(client, var_dir)
    result = await run(
        scenarios[name], client, console=console, mode=mode, language=language, pause=pause, credentials=credentials
    )
    paths = Report(result).write(reports_dir)
    return result, paths

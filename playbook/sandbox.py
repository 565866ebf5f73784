"""Where a scenario runs: the embedded sandbox in this process (the default), or any sandbox at a URL."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy import select, text, update

from gateway.audit.merkle import leaf_hash
from gateway.audit.models import AUDIT_TABLES, append_only_ddl
from playbook.credentials import ClientCredentials
from playbook.loader import load_all
from playbook.model import Language, Step
from playbook.report import Report, access_log_section, checkpoint_section
from playbook.runner import Control, RunResult, StepFailed, run

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class SandboxClock:
    """The embedded sandbox's one clock: the system time, moved forward when a scenario says days have passed
    (grievance deadlines, consent expiry), for every service and the gateway at once."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta():
            raise ValueError("the sandbox clock only moves forward")
        self._offset += delta


@dataclass
class EmbeddedControl:
    """The sandbox actions a scenario may take on the embedded sandbox, which runs in this process."""

    app: FastAPI
    clock: SandboxClock

    async def perform(self, name: str, args: dict[str, Any]) -> str:
        actions: dict[str, Callable[..., Awaitable[str]]] = {
            "advance_clock": self._advance_clock,
            "tamper_audit_entry": self._tamper_audit_entry,
        }
        if name not in actions:
            raise StepFailed(f"there is no sandbox action {name!r}; there are: {', '.join(sorted(actions))}")
        try:
            return await actions[name](**args)
        except TypeError as error:
            raise StepFailed(f"sandbox action {name}: {error}") from None

    async def _advance_clock(self, days: float = 0, hours: float = 0, minutes: float = 0) -> str:
        self.clock.advance(timedelta(days=days, hours=hours, minutes=minutes))
        return f"the sandbox clock moves forward to {self.clock.now().isoformat(timespec='minutes')}"

    async def _tamper_audit_entry(self, index: int, find: str, replace: str) -> str:
        """What an insider with database access would do: rewrite one stored audit entry, with a leaf hash that
        matches the new bytes, behind the database's append-only triggers (switched off and on again)."""
        engine = self.app.state.audit.engine
        tables = AUDIT_TABLES.events
        async with engine.begin() as conn:
            leaf = (await conn.execute(select(tables.c.leaf).where(tables.c.idx == index))).scalar_one_or_none()
            if leaf is None or find.encode() not in leaf:
                raise StepFailed(f"audit entry {index} holds no {find!r} to tamper with")
            changed = leaf.replace(find.encode(), replace.encode(), 1)
            dialect = conn.dialect.name
            if dialect == "postgresql":
                await conn.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
            else:
                await conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            await conn.execute(
                update(tables).where(tables.c.idx == index).values(leaf=changed, leaf_hash=leaf_hash(changed))
            )
            if dialect != "postgresql":
                update_trigger = append_only_ddl(dialect, "audit_events")[0]
                await conn.execute(text(update_trigger))
        return f"someone with database access rewrote audit entry {index}: {find!r} became {replace!r}"


@dataclass
class Embedded:
    client: httpx.AsyncClient
    control: EmbeddedControl
    clock: SandboxClock
    var_dir: Path


@asynccontextmanager
async def embedded_sandbox(var_dir: Path) -> AsyncIterator[Embedded]:
    """The whole sandbox in this process (migrations applied first), reached in memory through the gateway, with
    its clock and the sandbox actions scenarios use."""
    from dpi_sandbox.demo import quiet_logs
    from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all

    # Quieter request logs through settings, not the process environment, which outlives this sandbox (tests).
    quiet = quiet_logs()
    await upgrade_all(all_settings(var_dir, quiet))
    clock = SandboxClock()
    app = build_embedded(var_dir=var_dir, overrides=quiet, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", timeout=TIMEOUT) as client:
            yield Embedded(client, EmbeddedControl(app, clock), clock, var_dir)


@asynccontextmanager
async def embedded(var_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The embedded sandbox's HTTP client only."""
    async with embedded_sandbox(var_dir) as sandbox:
        yield sandbox.client


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
    control: Control | None = None,
    now: Callable[[], float] = time.time,
) -> tuple[RunResult, dict[str, Path]]:
    """Load (all files are validated first, so nothing half-runs), run, and write the report."""
    scenarios = load_all()
    if name not in scenarios:
        raise KeyError(f"no scenario {name!r}; there are: {', '.join(sorted(scenarios))}")
    pause = _wait_for_enter if workshop and sys.stdin.isatty() else None
    credentials = ClientCredentials.for_sandbox(client, var_dir, now)
    result = await run(
        scenarios[name], client, console=console, mode=mode, language=language, pause=pause,
        credentials=credentials, control=control, now=now,
    )  # fmt: skip
    report = Report(result)
    log = access_log_section(result)
    if log is not None:
        report.sections.append(log)
    with contextlib.suppress(httpx.HTTPError, ValueError):
        checkpoint = await client.get("/audit/checkpoint")
        if checkpoint.status_code == 200:
            report.sections.append(checkpoint_section(checkpoint.json()))
    paths = report.write(reports_dir)
    return result, paths

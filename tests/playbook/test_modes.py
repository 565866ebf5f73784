"""Scenario 1 runs green over real HTTP against the multi-process sandbox (five uvicorn processes), and against the
distributed configuration: the same processes on PostgreSQL (a schema per service) with NATS JetStream as the bus."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nats
import pytest
from nats.js import JetStreamContext
from rich.console import Console
from sqlalchemy import text

from dpi_sandbox.demo import DEMO_SCENARIO
from dpi_sandbox.embedded import all_settings, upgrade_all
from dpi_sandbox.processes import Supervisor
from dpi_sandbox.registry import ALL
from playbook.sandbox import remote, run_scenario
from services.common.db import create_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.slow
NATS_URL = "nats://127.0.0.1:4222"


def _free_port_block(size: int) -> int:
    """The first of `size` consecutive free ports (the gateway's and the four services')."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size >= 65535:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + size):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        return base
    pytest.fail("found no block of free ports")


def _unreachable(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return None
    except OSError as error:
        return f"{url} is not reachable ({error})"


@contextlib.contextmanager
def _processes(var_dir: Path) -> Iterator[str]:
    supervisor = Supervisor(var_dir=var_dir, port_base=_free_port_block(5), log=lambda _line: None)
    try:
        supervisor.start()
        yield f"http://127.0.0.1:{supervisor.port_base}"
    finally:
        supervisor.stop()


async def _run_scenario_1(url: str, var_dir: Path, mode: str) -> None:
    console = Console(record=True, width=120)
    async with remote(url) as client:
        result, paths = await run_scenario(
            DEMO_SCENARIO, client, console=console, reports_dir=var_dir / "reports", var_dir=var_dir, mode=mode
        )
    assert result.ok, (result.failed.step.id, result.failed.reason) if result.failed else "not every step ran"
    markdown = paths["md"].read_text("utf-8")
    assert f"against {url} ({mode} mode)" in markdown
    for rule in result.scenario.rules:
        assert f"`{rule}`" in markdown


async def test_scenario_1_runs_green_over_http_on_the_multi_process_sandbox(tmp_path):
    await upgrade_all(all_settings(tmp_path))
    with _processes(tmp_path) as url:
        await _run_scenario_1(url, tmp_path, "multi-process")


async def test_scenario_1_runs_green_on_postgresql_and_nats_as_separate_processes(tmp_path, monkeypatch):
    for reason in (_unreachable(POSTGRES_URL.replace("+asyncpg", "")), _unreachable(NATS_URL)):
        if reason:
            pytest.skip(f"the distributed configuration needs PostgreSQL and NATS: {reason}")
    run = uuid.uuid4().hex[:10]
    schemas = {entry.name: f"scenarios_{run}_{entry.name}" for entry in ALL}
    for entry in ALL:
        prefix = f"DPI_{entry.name.upper()}_"
        monkeypatch.setenv(prefix + "DATABASE_URL", POSTGRES_URL)
        monkeypatch.setenv(prefix + "DATABASE_SCHEMA", schemas[entry.name])
        monkeypatch.setenv(prefix + "REPLAY_STORE", "database")  # the supervisor's children inherit the environment
        if entry.name != "gateway":
            monkeypatch.setenv(prefix + "BUS", "nats")
            monkeypatch.setenv(prefix + "NATS_URL", NATS_URL)
            monkeypatch.setenv(prefix + "NATS_STREAM", f"SCENARIOS_{run}")
            monkeypatch.setenv(prefix + "NATS_PREFIX", f"scenarios-{run}")
    engine = create_engine(POSTGRES_URL)
    try:
        await upgrade_all(all_settings(tmp_path))
        with _processes(tmp_path) as url:
            await _run_scenario_1(url, tmp_path, "distributed")
        async with engine.connect() as conn:
            decisions = await conn.scalar(text(f'SELECT count(*) FROM "{schemas["gateway"]}".audit_events'))
            people = await conn.scalar(text(f'SELECT count(*) FROM "{schemas["identity"]}".persons'))
        assert decisions and decisions > 20 and people == 1, "the decisions and the person are in PostgreSQL"
        assert await _stream_messages(f"SCENARIOS_{run}") > 0, "the services' events went through NATS JetStream"
        assert not list(tmp_path.glob("*.db")), "no SQLite database was used"
    finally:
        async with engine.begin() as conn:
            for schema in schemas.values():
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
        with contextlib.suppress(Exception):
            async with _jetstream() as jetstream:
                await jetstream.delete_stream(f"SCENARIOS_{run}")


@contextlib.asynccontextmanager
async def _jetstream() -> AsyncIterator[JetStreamContext]:
    connection = await asyncio.wait_for(nats.connect(NATS_URL), timeout=3)
    try:
        yield connection.jetstream()
    finally:
        await connection.close()


async def _stream_messages(name: str) -> int:
    async with _jetstream() as jetstream:
        info = await jetstream.stream_info(name)
    return int(info.state.messages)

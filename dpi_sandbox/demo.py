"""`make demo`: serve the embedded sandbox, narrate a walk through it, write the report, then keep serving.

Until the playbook scenarios exist this walk is the foundation tour: every service healthy through the gateway,
keys published, and the deny-by-default boundary shown from both sides.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console

from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from dpi_sandbox.registry import ALL, SERVICES


@dataclass
class Step:
    title: str
    request: str
    status: int
    expected: int
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == self.expected


@dataclass
class Report:
    base_url: str
    started_at: datetime
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def markdown(self) -> str:
        lines = [
            "# DPI sandbox: foundation tour",
            "",
            f"Run at {self.started_at.isoformat()} against {self.base_url}. All data in this sandbox is synthetic.",
            "",
            "| # | step | request | status | expected | result |",
            "|---|---|---|---|---|---|",
        ]
        for number, step in enumerate(self.steps, start=1):
            result = "ok" if step.ok else "FAILED"
            lines.append(f"| {number} | {step.title} | `{step.request}` | {step.status} | {step.expected} | {result} |")
        lines += ["", f"Outcome: {'every step behaved as expected' if self.ok else 'some steps FAILED'}.", ""]
        notes = [f"- {step.title}: {step.note}" for step in self.steps if step.note]
        return "\n".join(lines + (["## Notes", "", *notes, ""] if notes else []))


async def tour(client: httpx.AsyncClient, console: Console, report: Report) -> None:
    async def step(title: str, method: str, path: str, expected: int, explain: str) -> httpx.Response:
        response = await client.request(method, path)
        note = ""
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            note = response.json().get("detail", "")
        report.steps.append(Step(title, f"{method} {path}", response.status_code, expected, note))
        mark = "[green]ok[/]" if response.status_code == expected else "[red]FAILED[/]"
        console.print(f"  {mark} {method} {path} -> {response.status_code}  [dim]{explain}[/]")
        return response

    console.rule("Play 1: unbundled building blocks behind one gateway")
    await step("Gateway is alive", "GET", "/healthz", 200, "the only public entry point")
    for entry in SERVICES:
        await step(f"{entry.name} is healthy through the gateway", "GET", f"/{entry.name}/healthz", 200,
                   f"{entry.name} runs as its own app with its own database")  # fmt: skip
        await step(f"{entry.name} database is ready", "GET", f"/{entry.name}/readyz", 200, "readiness checks the DB")
    console.rule("Play 3: signatures and open APIs")
    for entry in SERVICES:
        response = await step(f"{entry.name} publishes its signing key", "GET", f"/{entry.name}/.well-known/jwks.json",
                              200, "ES256 key generated on first run into var/keys/")  # fmt: skip
        kid = response.json()["keys"][0]["kid"] if response.status_code == 200 else "?"
        console.print(f"      key id {kid}")
    console.rule("Play 4: deny by default")
    await step("An unauthenticated call is refused", "GET", "/identity/v1/caller", 401,
               "no registered client credentials: 401 problem+json")  # fmt: skip


async def run_demo(*, host: str, port: int, once: bool, var_dir: Path, console: Console) -> int:
    for entry in ALL:  # the narration is the demo's output; request logs would drown it (override with the env)
        os.environ.setdefault(f"DPI_{entry.name.upper()}_LOG_LEVEL", "WARNING")
    settings = all_settings(var_dir)
    console.print(f"[bold]DPI reference sandbox[/] (embedded mode, SQLite under {var_dir}/)")
    await upgrade_all(settings)
    app = build_embedded(var_dir=var_dir)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            console.print(f"[red]could not serve on {host}:{port}[/]")
            return 1
        await asyncio.sleep(0.05)
    base_url = f"http://{host}:{port}"
    report = Report(base_url=base_url, started_at=datetime.now(UTC))
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        await tour(client, console, report)
    reports_dir = var_dir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "demo.md").write_text(report.markdown())
    (reports_dir / "demo.json").write_text(
        json.dumps({"ok": report.ok, "steps": [s.__dict__ for s in report.steps]}, indent=2)
    )
    console.print(f"\nReport written to {reports_dir / 'demo.md'}")
    if once or not sys.stdin.isatty():
        server.should_exit = True
        await serving
        return 0 if report.ok else 1
    console.print(f"Serving at {base_url} (OpenAPI at {base_url}/docs). Press Ctrl-C to stop.")
    await serving
    return 0 if report.ok else 1

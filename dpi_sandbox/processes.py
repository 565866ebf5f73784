"""Multi-process mode: five uvicorn processes (gateway 8000, services 8001-8004) talking real HTTP.

The supervisor prepares keys and databases first (so no process races to create them), starts the services, then
the gateway, waits until each answers /healthz, and on SIGINT or SIGTERM stops them all: SIGTERM, a grace period,
then SIGKILL. On Linux each child also asks the kernel to kill it if the supervisor dies, so nothing is orphaned.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from dpi_sandbox.registry import ALL, GATEWAY, SERVICES, ServiceEntry
from services.common.keys import load_or_create_signing_key

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    entry: ServiceEntry
    port: int
    process: subprocess.Popen[bytes]


def child_environment(var_dir: Path, host: str, port_base: int) -> dict[str, str]:
    env = dict(os.environ)
    for entry in ALL:
        prefix = f"DPI_{entry.name.upper()}_"
        env[prefix + "VAR_DIR"] = str(var_dir)  # --var-dir wins: the supervisor made the gateway key there
        # One process per service: the in-process replay cache is exact. Replicas must use `database`.
        env.setdefault(prefix + "REPLAY_STORE", "memory")
    for offset, entry in enumerate(SERVICES, start=1):
        env[f"DPI_GATEWAY_{entry.name.upper()}_URL"] = f"http://{host}:{port_base + offset}"
    return env


class Supervisor:
    def __init__(
        self, *, var_dir: Path, host: str = "127.0.0.1", port_base: int = 8000, log: Callable[[str], None] = print
    ):
        self.var_dir = var_dir
        self.host = host
        self.port_base = port_base
        self.children: list[Child] = []
        self._log = log
        self._stopping = False

    def start(self) -> None:
        load_or_create_signing_key(self.var_dir / "keys", GATEWAY.name)
        env = child_environment(self.var_dir, self.host, self.port_base)
        for offset, entry in [(i, e) for i, e in enumerate(SERVICES, start=1)] + [(0, GATEWAY)]:
            port = self.port_base + offset
            command = [
                sys.executable, "-m", "uvicorn", "--factory", entry.factory_path,
                "--host", self.host, "--port", str(port), "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
            process = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509
            self.children.append(Child(entry, port, process))
            if entry is GATEWAY:
                break
        for child in self.children:
            self._wait_healthy(child)
            self._log(f"{child.entry.name:<9} http://{self.host}:{child.port}  pid {child.process.pid}")

    def _wait_healthy(self, child: Child, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.entry.name} exited with {child.process.returncode} during start-up")
            try:
                if httpx.get(f"http://{self.host}:{child.port}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{child.entry.name} did not become healthy within {timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + grace
        for child in self.children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    def serve_forever(self) -> int:
        """Block until SIGINT/SIGTERM or a child dies; always stop every child before returning."""
        received: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            received.append(signum)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not received:
                dead = [c for c in self.children if c.process.poll() is not None]
                if dead:
                    self._log(f"{dead[0].entry.name} exited with {dead[0].process.returncode}; stopping the sandbox")
                    return 1
                time.sleep(0.2)
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

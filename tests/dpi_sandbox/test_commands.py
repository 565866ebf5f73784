"""The commands a newcomer runs: `dpi-sandbox demo` and `dpi-sandbox up --processes`, as real processes."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from dpi_sandbox.demo import DEMO_SCENARIO
from playbook.loader import load_all

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "dpi_sandbox.cli"]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_once_serves_tours_and_exits_zero(tmp_path):
    port = _free_port()
    result = subprocess.run(
        [*CLI, "demo", "--once", "--port", str(port), "--var-dir", str(tmp_path)],
        cwd=ROOT, check=False, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "reports" / f"{DEMO_SCENARIO}.md").read_text()
    assert "Outcome: every step behaved as expected" in report
    assert "FAILED" not in report
    for rule in load_all()[DEMO_SCENARIO].rules:
        assert f"`{rule}`" in report, f"the report does not name {rule}, which the scenario demonstrates"
    assert "From start to report:" in result.stdout
    assert list((tmp_path / "keys").glob("*.es256.pem")), "keys are generated on first run under the var dir"


def test_demo_without_a_terminal_exits_after_the_report(tmp_path):
    """No --once, but stdin is not a TTY (as in CI): the demo must still end by itself."""
    port = _free_port()
    result = subprocess.run(
        [*CLI, "demo", "--port", str(port), "--var-dir", str(tmp_path)],
        cwd=ROOT, check=False, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "reports" / f"{DEMO_SCENARIO}.md").exists()


def _free_port_block(size: int) -> range:
    """Five consecutive free ports (the multi-process mode takes the gateway's port and the next four), so that
    two checkouts running the suite on one machine never collide on 8000-8004."""
    for _ in range(50):
        base = _free_port()
        if base + size >= 65535:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + size):
                    probe = held.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return range(base, base + size)
    pytest.fail("found no block of free ports")


def start_processes(var_dir: Path) -> tuple[subprocess.Popen[str], range]:
    """`dpi-sandbox up --processes` on a free block of five ports; the supervisor and its ports."""
    ports = _free_port_block(5)
    supervisor = subprocess.Popen(
        [*CLI, "up", "--processes", "--port", str(ports[0]), "--var-dir", str(var_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return supervisor, ports


def wait_healthy(supervisor: subprocess.Popen[str], gateway_url: str, seconds: int) -> None:
    """Until the gateway reports every service healthy; fails with the supervisor's output if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{gateway_url}/services", timeout=2).json().get("healthy"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        assert supervisor.poll() is None, supervisor.stdout.read() if supervisor.stdout else ""
        time.sleep(0.3)
    pytest.fail(f"the multi-process sandbox did not become healthy in {seconds} s")


def test_up_processes_serves_five_processes_and_stops_them_all_on_sigint(tmp_path):
    supervisor, ports = start_processes(tmp_path)
    gateway_url = f"http://127.0.0.1:{ports[0]}"
    try:
        wait_healthy(supervisor, gateway_url, 300)
        children = psutil.Process(supervisor.pid).children(recursive=True)
        assert len(children) == 5, [c.cmdline() for c in children]
        for port, name in zip(ports, ("gateway", "identity", "payments", "consent", "exchange"), strict=True):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["service"] == name
        for name in ("identity", "payments", "consent", "exchange"):
            assert httpx.get(f"{gateway_url}/{name}/healthz", timeout=2).status_code == 200
        direct = httpx.get(f"http://127.0.0.1:{ports[1]}/v1/caller", timeout=2)
        assert direct.status_code == 401, "a service port without a gateway assertion refuses"

        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"processes left behind: {[p.pid for p in alive]}"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_console_script_is_installed():
    assert shutil.which("dpi-sandbox", path=str(Path(sys.executable).parent)), "dpi-sandbox is not on the venv PATH"

"""Shared by the benchmark scripts: a service under uvicorn over real HTTP, and a load driver in its own process.

The driver sends requests that were built (and their gateway assertions minted) before the clock starts, over
keep-alive HTTP/1.1 connections, and times each one from the first byte written to the last byte read (a chain of
requests, such as a transfer's prepare and its fulfil, goes over one connection in order and is timed whole). It runs as
a separate process (`python -m benchmarks._http`), so its work is not the server's, though on a small machine the
two share the cores: the figures say so. It is deliberately minimal (no TLS, no chunked bodies, no redirects): a
load generator that costs little per request, in the spirit of wrk, which is not part of a fresh machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import Result

ROOT = Path(__file__).resolve().parent.parent


def http_request(method: str, path: str, *, headers: Mapping[str, str] | None = None, body: bytes = b"") -> bytes:
    """One HTTP/1.1 request, ready to write to a keep-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_request(method: str, path: str, payload: object, *, headers: Mapping[str, str] | None = None) -> bytes:
    return http_request(
        method, path, headers={"Content-Type": "application/json", **(headers or {})}, body=json.dumps(payload).encode()
    )


@dataclass
class Served:
    """The uvicorn processes serving one app factory, one per worker, and where they listen."""

    processes: list[subprocess.Popen[bytes]]
    host: str
    ports: list[int]

    @property
    def port(self) -> int:
        """Where a single client (a set-up step, not the load) may call."""
        return self.ports[0]


@contextlib.contextmanager
def serve(
    factory: str,
    *,
    env: Mapping[str, str],
    workers: int,
    port: int = 18_080,
    host: str = "127.0.0.1",
    ready_path: str = "/healthz",
) -> Iterator[Served]:
    """Run `factory` in `workers` uvicorn processes, each on its own port from `port` on, until the block ends.

    Not `uvicorn --workers N`: its workers share one listening socket, and a burst of new connections (the driver
    opening its connections) is usually accepted by one of them, which then serves all the load while the others
    idle (seen here: 17.4 s of CPU against 0.5 s). Separate ports, with the driver spreading its connections over
    them, put each worker under the share of load a load balancer would give it.

    Idle keep-alive connections are kept 60 s (uvicorn's default is 5 s): a row's connections are opened before
    its warm-up, which on a busy machine can take longer than 5 s before the last of them is used.
    """
    ports = [port + index for index in range(workers)]
    logs = [Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1]) for _ in ports]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for worker_port, log in zip(ports, logs, strict=True):
            command = [
                sys.executable, "-m", "uvicorn", "--factory", factory, "--host", host, "--port", str(worker_port),
                "--no-access-log", "--log-level", "warning",
                # The warm-up uses one connection at a time: on a loaded machine the others wait longer than
                # uvicorn's 5 s keep-alive, and a closed connection would end the run.
                "--timeout-keep-alive", "120",
            ]  # fmt: skip
            with log.open("wb") as output:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
                    )
                )
        for process, worker_port, log in zip(processes, ports, logs, strict=True):
            _wait_until_ready(process, f"http://{host}:{worker_port}{ready_path}", log)
        yield Served(processes, host, ports)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.unlink(missing_ok=True)


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    # Seconds: an app's start (imports, migrations check, lifespan) took over 60 s at load average 28 on 2 cores.
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within 180 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@dataclass
class Load:
    """What one driver run measured: a Result, every response status with how often it came, and where the
    machine's CPU went meanwhile (see `CpuUse`)."""

    result: Result
    statuses: Counter[int] = field(default_factory=Counter)
    sample_failure: str = ""
    cpu: CpuUse | None = None

    def failures(self, expected: Sequence[int]) -> int:
        return sum(n for status, n in self.statuses.items() if status not in expected)


@dataclass(frozen=True)
class CpuUse:
    """CPU milliseconds per timed request of the server's processes, of the PostgreSQL backends serving them (not the
    machine's other PostgreSQL work), Redis's and the driver's, and the share of the machine's CPU time that stayed
    idle meanwhile, from Linux's /proc accounting (clock ticks of 10 ms: meaningful over thousands of requests,
    rough over a --quick row)."""

    per_request_ms: dict[str, float]
    idle_share: float

    def describe(self) -> str:
        parts = ", ".join(f"{name} {ms:.2f}" for name, ms in self.per_request_ms.items())
        return f"CPU ms per request: {parts}; machine idle {self.idle_share:.0%}"


def _cpu_ticks(server_pids: Sequence[int]) -> tuple[dict[int, tuple[str, int]], list[int]] | None:
    """Clock ticks used so far by each process of a group (server tree, PostgreSQL, Redis), and /proc/stat's machine
    totals; None where there is no /proc."""
    proc = Path("/proc")
    if not (proc / "stat").exists():
        return None
    parents: dict[int, int] = {}
    usage: dict[int, tuple[str, int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            command, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(rest[1])
            usage[int(entry.name)] = (command, int(rest[11]) + int(rest[12]))

    def in_server(pid: int) -> bool:
        while pid > 1:
            if pid in server_pids:
                return True
            pid = parents.get(pid, 1)
        return False

    server = [pid for pid in usage if in_server(pid)]
    backends = _backends_of(server, [pid for pid, (command, _) in usage.items() if command.startswith("postgres")])
    ticks: dict[int, tuple[str, int]] = {}
    for pid, (command, used) in usage.items():
        group = "server" if pid in server else "PostgreSQL" if pid in backends else (
            "Redis" if command.startswith("redis-server") else None
        )  # fmt: skip
        if group:
            ticks[pid] = (group, used)
    machine = [int(v) for v in (proc / "stat").read_text().splitlines()[0].split()[1:9]]
    return ticks, machine


def _backends_of(server: list[int], postgres: list[int]) -> set[int]:
    """The PostgreSQL backends serving the server's own connections: a backend's process title names its client's
    port (`postgres: user db 127.0.0.1(54321) idle`), matched against the ports of the server's sockets. On a
    shared machine the other PostgreSQL processes are other people's work. Where no title names a port (titles
    turned off), every PostgreSQL process, as an upper bound."""
    inodes: set[str] = set()
    for pid in server:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    found: set[int] = set()
    titled = False
    for pid in postgres:
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode("latin-1")
            if match := re.search(r"\((\d+)\)", title):
                titled = True
                if int(match.group(1)) in ports:
                    found.add(pid)
    return found if titled else set(postgres)


def _cpu_use(
    before: tuple[dict[int, tuple[str, int]], list[int]] | None,
    after: tuple[dict[int, tuple[str, int]], list[int]] | None,
    driver_seconds: float,
    requests: int,
) -> dict[str, Any] | None:
    if before is None or after is None or not requests:
        return None
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    per_request = {"server": 0.0, "PostgreSQL": 0.0, "Redis": 0.0}
    for pid, (group, used) in after[0].items():  # a process that ended meanwhile is missing: an undercount
        per_request[group] += (used - before[0].get(pid, (group, 0))[1]) * tick_ms / requests
    per_request["driver"] = driver_seconds * 1000 / requests
    spent = [b - a for a, b in zip(before[1], after[1], strict=True)]
    return {"per_request_ms": per_request, "idle_share": spent[3] / max(1, sum(spent))}


Request = bytes | tuple[bytes, ...]  # one request, or a chain sent in order over one connection and timed whole


def drive(
    name: str,
    served: Served,
    requests: Sequence[Request],
    *,
    concurrency: int,
    warmup: Sequence[Request] = (),
    max_seconds: float = 40.0,
) -> Load:
    """Send `requests` (each once) over `concurrency` connections from a separate process; warm-up ones untimed.

    A chain's parts are sent one after the other on the same connection, each after the answer to the one before;
    the chain stops at a part answered with 400 or more. Its latency is the whole chain's; every part's status is
    counted in `statuses`, so a row of chains has more statuses than timed requests.

    No new request starts after `max_seconds`: gateway assertions live 60 s from when they were minted, so a slow
    row reports the requests that finished in time (its n says how many) rather than a tail of expired ones.
    """
    with tempfile.TemporaryDirectory() as scratch:
        job, answer = Path(scratch) / "job.pickle", Path(scratch) / "answer.json"
        job.write_bytes(pickle.dumps({"requests": list(requests), "warmup": list(warmup), "max_seconds": max_seconds}))
        command = [
            sys.executable, "-m", "benchmarks._http", str(job), str(answer), served.host,
            ",".join(map(str, served.ports)), str(concurrency), ",".join(str(p.pid) for p in served.processes),
        ]  # fmt: skip
        subprocess.run(command, cwd=ROOT, check=True)
        outcome = json.loads(answer.read_text())
    return _load(name, outcome)


def _load(name: str, outcome: Mapping[str, Any]) -> Load:
    """A row as the driver process reported it: its latencies over its own seconds, statuses, first failure, CPU."""
    load = Load(
        Result(name, len(outcome["latencies"]), outcome["seconds"], outcome["latencies"]),
        Counter({int(status): n for status, n in outcome["statuses"].items()}),
        outcome["sample_failure"],
    )
    if outcome["cpu"] is not None:
        load.cpu = CpuUse(outcome["cpu"]["per_request_ms"], outcome["cpu"]["idle_share"])
    return load


def drive_paired(
    first: tuple[str, Served, Sequence[Request]],
    second: tuple[str, Served, Sequence[Request]],
    *,
    concurrency: int = 1,
    warmup: int = 0,
    block: int = 25,
) -> tuple[Load, Load]:
    """Two servers asked in turn, `concurrency` requests in flight on each: `block` requests to `first`, then the
    same pairs' requests to `second` (the other server idle meanwhile), then the next block; the first `warmup`
    pairs untimed. A row's rate is its requests over the time its own blocks took.

    For a path next to its baseline (the exchange's fetch next to the provider called directly): both rows are
    measured over the same seconds, so a change in the machine's speed while they run (on a shared machine the same
    row's p50 moved by half within minutes, and a rate by a fifth between two runs) reaches both alike instead of
    only the row that happened to run later. In blocks rather than strictly alternating: a server woken for every
    other request answers slower than one kept busy (its caches gone cold meanwhile), which would raise both rows.
    The requests of a pair should ask for the same thing. Each row's CPU figures are its own server's processes and
    their PostgreSQL backends over the whole run (the other server's blocks included, when it idles); Redis's and
    the driver's are the pair's together."""
    (first_name, first_served, first_requests), (second_name, second_served, second_requests) = first, second
    if len(first_requests) != len(second_requests):
        raise ValueError("a pair needs as many requests on each side")
    with tempfile.TemporaryDirectory() as scratch:
        job, answer = Path(scratch) / "job.pickle", Path(scratch) / "answer.json"
        pairs = list(zip(first_requests, second_requests, strict=True))
        job.write_bytes(pickle.dumps({"pairs": pairs, "warmup": warmup, "block": block, "concurrency": concurrency}))
        sides = [
            f"{','.join(map(str, served.ports))}/{','.join(str(p.pid) for p in served.processes)}"
            for served in (first_served, second_served)
        ]
        command = [sys.executable, "-m", "benchmarks._http", str(job), str(answer), first_served.host, "paired", *sides]
        subprocess.run(command, cwd=ROOT, check=True)
        outcome = json.loads(answer.read_text())
    first_side, second_side = outcome["sides"]
    return _load(first_name, first_side), _load(second_name, second_side)


def checked(load: Load, expected: Sequence[int], results: list[Result], notes: list[str]) -> Result:
    """Keep the row (and its CPU note); a response outside `expected` is a broken run, not a figure."""
    if failures := load.failures(expected):
        raise SystemExit(f"{load.result.name}: {failures} unexpected responses {dict(load.statuses)}; "
                         f"first: {load.sample_failure}")  # fmt: skip
    results.append(load.result)
    if load.cpu is not None:
        notes.append(f"{load.result.name}: {load.cpu.describe()}.")
    if set(load.statuses) != {expected[0]}:
        notes.append(f"{load.result.name}: responses {dict(sorted(load.statuses.items()))}.")
    return load.result


# --- the driver process -------------------------------------------------------------------------------------------


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            raise RuntimeError("chunked responses are not supported by this driver")
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _exchange_all(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request
) -> list[tuple[int, bytes]]:
    answers = []
    for part in (request,) if isinstance(request, bytes) else request:
        answers.append(await _exchange(reader, writer, part))
        if answers[-1][0] >= 400:
            break
    return answers


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Tally:
    """The timed requests of one row: each one's latency, every part's status, and the first failure's text."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.sample_failure = ""

    async def send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request) -> None:
        sent = time.perf_counter()
        answers = await _exchange_all(reader, writer, request)
        self.latencies.append(time.perf_counter() - sent)
        for status, body in answers:
            self.statuses[status] += 1
            if status >= 400 and not self.sample_failure:
                self.sample_failure = f"{status}: {body[:500].decode(errors='replace')}"

    def outcome(self, seconds: float, cpu: dict[str, Any] | None) -> dict[str, object]:
        return {
            "latencies": self.latencies, "seconds": seconds, "statuses": self.statuses,
            "sample_failure": self.sample_failure, "cpu": cpu,
        }  # fmt: skip


async def _connect(host: str, ports: list[int], concurrency: int, warmup: Sequence[Request]) -> list[Connection]:
    """`concurrency` keep-alive connections, round robin over the ports (as a load balancer spreading connections
    would), with the untimed warm-up requests sent over them in turn."""
    connections = [await asyncio.open_connection(host, ports[index % len(ports)]) for index in range(concurrency)]
    for index, request in enumerate(warmup):
        reader, writer = connections[index % concurrency]
        await _exchange_all(reader, writer, request)
    return connections


async def _run(
    job: dict[str, Any], host: str, ports: list[int], concurrency: int, server_pids: list[int]
) -> dict[str, object]:
    requests, max_seconds = job["requests"], job["max_seconds"]
    tally = _Tally()
    next_index = 0
    connections = await _connect(host, ports, concurrency, job["warmup"])

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal next_index
        while next_index < len(requests) and time.perf_counter() - run_started < max_seconds:
            request = requests[next_index]
            next_index += 1
            await tally.send(reader, writer, request)

    cpu_before, driver_before = _cpu_ticks(server_pids), time.process_time()
    run_started = time.perf_counter()
    await asyncio.gather(*(worker(reader, writer) for reader, writer in connections))
    seconds = time.perf_counter() - run_started
    cpu = _cpu_use(cpu_before, _cpu_ticks(server_pids), time.process_time() - driver_before, len(tally.latencies))
    for _, writer in connections:
        writer.close()
    return tally.outcome(seconds, cpu)


async def _run_paired(job: dict[str, Any], host: str, sides: list[tuple[list[int], list[int]]]) -> dict[str, object]:
    pairs, warmup, block, concurrency = job["pairs"], job["warmup"], job["block"], job["concurrency"]
    connections = [
        await _connect(host, ports, concurrency, [pair[index] for pair in pairs[:warmup]])
        for index, (ports, _) in enumerate(sides)
    ]
    tallies = [_Tally() for _ in sides]
    busy = [0.0 for _ in sides]

    async def run_block(index: int, requests: list[Request]) -> None:
        queue = iter(requests)

        async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for request in queue:  # one iterator shared by the workers: each request is sent once
                await tallies[index].send(reader, writer, request)

        started = time.perf_counter()
        await asyncio.gather(*(worker(reader, writer) for reader, writer in connections[index]))
        busy[index] += time.perf_counter() - started

    before = [_cpu_ticks(pids) for _, pids in sides]
    driver_before = time.process_time()
    timed = pairs[warmup:]
    for start in range(0, len(timed), block):
        for index in range(len(sides)):
            await run_block(index, [pair[index] for pair in timed[start : start + block]])
    driver_seconds = time.process_time() - driver_before
    after = [_cpu_ticks(pids) for _, pids in sides]
    for side in connections:
        for _, writer in side:
            writer.close()
    return {
        "sides": [
            tally.outcome(busy[index], _cpu_use(before[index], after[index], driver_seconds, len(tally.latencies)))
            for index, tally in enumerate(tallies)
        ],
    }


def _main(arguments: list[str]) -> None:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    job_path, answer_path, host, *rest = arguments
    job = pickle.loads(Path(job_path).read_bytes())
    if rest[0] == "paired":
        sides = [
            ([int(p) for p in ports.split(",")], [int(p) for p in pids.split(",")])
            for ports, pids in (side.split("/") for side in rest[1:])
        ]
        outcome = runner(_run_paired(job, host, sides))
    else:
        ports, concurrency, server_pids = rest
        port_list, pid_list = [int(p) for p in ports.split(",")], [int(p) for p in server_pids.split(",")]
        outcome = runner(_run(job, host, port_list, int(concurrency), pid_list))
    Path(answer_path).write_text(json.dumps(outcome))


if __name__ == "__main__":
    _main(sys.argv[1:])

"""`dpi-sandbox seed` at scale on PostgreSQL: the synthetic population into identity and the exchange's civil and
social registries, timed, with the CPU it took.

1,000,000 people by default (--quick: 20,000; --people N for another size), into two fresh schemas
`seed_bench_<N>_identity` and `seed_bench_<N>_exchange` that are dropped afterwards (--keep leaves them). Prints the
seed's own report (its phases), the wall time, the CPU time (user + system) of the loader's processes and of the
PostgreSQL backends that served it (with their parallel workers), and the load average before and after: on a
shared machine the wall time is pessimistic, and the CPU total says what an idle machine would take.
Target (docs/benchmarks.md): 1,000,000 people in under 3 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import POSTGRES_URL, Result, drop_postgres_schema, postgres_reachable, report
from dpi_sandbox.seed import seed_population

SEED = 2026


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving this process and its worker processes, with their parallel
    workers, from /proc: a backend's title names its client's port ("postgres: user db 127.0.0.1(port) ..."), and
    /proc/net/tcp the ports of our sockets. Sampled every 0.2 s: a backend that ends between two samples loses at
    most that much."""

    def __init__(self) -> None:
        self._ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def _our_ports(proc: Path) -> set[int]:
        me = os.getpid()
        inodes: set[str] = set()
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int(entry.name)
                if pid != me and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != me:
                    continue
                for fd in (entry / "fd").iterdir():
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
        ports = set()
        for table in ("tcp", "tcp6"):
            with contextlib.suppress(OSError):
                for line in (proc / "net" / table).read_text().splitlines()[1:]:
                    fields = line.split()
                    if fields[9] in inodes:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports

    def _poll(self) -> None:
        proc = Path("/proc")
        backends: set[int] = set()
        while not self._stop.wait(0.2):
            clients = {f"({port})" for port in self._our_ports(proc)}
            for entry in proc.iterdir():
                if not entry.name.isdigit():
                    continue
                pid = int(entry.name)
                with contextlib.suppress(OSError, ValueError, IndexError):
                    if pid not in self._ticks:
                        title = (entry / "cmdline").read_bytes().decode(errors="replace")
                        if not title.startswith("postgres: "):
                            continue
                        if title.startswith("postgres: parallel worker for PID "):
                            if int(title.split("PID ")[1].split()[0].strip("\x00")) not in backends:
                                continue
                        elif not any(client in title for client in clients):
                            continue
                        else:
                            backends.add(pid)
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    self._ticks[pid] = int(fields[11]) + int(fields[12])

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self._ticks.values()) / os.sysconf("SC_CLK_TCK")


async def main(people: int, keep: bool) -> None:
    if not await postgres_reachable():
        raise SystemExit(f"PostgreSQL at {POSTGRES_URL} is not reachable")
    schemas = {name: f"seed_bench_{people}_{name}" for name in ("identity", "exchange")}
    for schema in schemas.values():
        await drop_postgres_schema(schema)
    overrides = {name: {"database_url": POSTGRES_URL, "database_schema": s} for name, s in schemas.items()}
    load_before = os.getloadavg()
    started, cpu_before = time.perf_counter(), os.times()
    with BackendCpu() as backends:
        seeded = await seed_population(
            people=people, seed=SEED, var_dir=Path("var") / "bench-seed", overrides=overrides
        )
    wall, cpu_after = time.perf_counter() - started, os.times()
    own = sum(
        getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("user", "system", "children_user", "children_system")
    )
    if not keep:
        for schema in schemas.values():
            await drop_postgres_schema(schema)
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in seeded.seconds.items())
    notes = [
        f"{people:,} people in {seeded.households:,} households, {seeded.enrolled:,} enrolled in identity; "
        f"phases (wall): {phases}.",
        f"CPU: the loader {own:.1f} s (user + system, its worker processes included), its PostgreSQL backends "
        f"{backends.seconds:.1f} s; {own + backends.seconds:.1f} s in all over {os.cpu_count()} cores.",
        f"load average before {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
        "Target: 1,000,000 people in under 180 s on this machine.",
    ]
    result = Result(f"seed --people {people:,} on PostgreSQL (people per second; p50 = wall ms)", people, wall, [wall])
    report("dpi-sandbox seed on PostgreSQL", [result], notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 people (under a minute)")
    parser.add_argument("--people", type=int, default=None, help="how many people (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="leave the schemas in place")
    options = parser.parse_args()
    size = options.people or (20_000 if options.quick else 1_000_000)
    asyncio.run(main(size, options.keep))

"""The benchmarks' paired load driver (`benchmarks/_http.py`, `drive_paired`): two servers asked in turn, block after
block, each request sent once to its own side, and each row timed over its own blocks only. Checked against two
small HTTP servers in the test's process that record what reaches them; no figure is judged here."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from benchmarks._http import _run_paired, http_request


class Recorder:
    """A keep-alive HTTP/1.1 server answering every request with 200 (or 404 for /missing) after `delay` seconds,
    recording the path and when it arrived."""

    def __init__(self, name: str, seen: list[tuple[str, str, float]], delay: float) -> None:
        self.name, self.seen, self.delay = name, seen, delay

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                self.seen.append((self.name, path, time.perf_counter()))
                await asyncio.sleep(self.delay)
                status = b"404 Not Found" if path == "/missing" else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def _paired(
    pairs: list[tuple[bytes, bytes]], *, warmup: int, block: int, concurrency: int, delays: tuple[float, float]
) -> tuple[dict[str, Any], list[tuple[str, str, float]]]:
    seen: list[tuple[str, str, float]] = []
    servers = []
    sides = []
    for name, delay in zip(("first", "second"), delays, strict=True):
        server = await asyncio.start_server(Recorder(name, seen, delay).handle, "127.0.0.1", 0)
        servers.append(server)
        sides.append(([server.sockets[0].getsockname()[1]], [os.getpid()]))
    job = {"pairs": pairs, "warmup": warmup, "block": block, "concurrency": concurrency}
    try:
        outcome = await _run_paired(job, "127.0.0.1", sides)
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
    return outcome, seen


def _pairs(n: int) -> list[tuple[bytes, bytes]]:
    return [(http_request("GET", f"/a/{i}"), http_request("GET", f"/b/{i}")) for i in range(n)]


async def test_one_at_a_time_each_block_goes_to_one_side_then_the_other() -> None:
    outcome, seen = await _paired(_pairs(13), warmup=3, block=4, concurrency=1, delays=(0, 0))
    timed = [(side, path) for side, path, _ in seen][6:]  # after the warm-up: 3 to each side
    expected = []
    for start in range(3, 13, 4):
        expected += [("first", f"/a/{i}") for i in range(start, min(start + 4, 13))]
        expected += [("second", f"/b/{i}") for i in range(start, min(start + 4, 13))]
    assert timed == expected
    first, second = outcome["sides"]
    assert len(first["latencies"]) == len(second["latencies"]) == 10  # the warm-up is not timed
    assert first["statuses"] == second["statuses"] == {200: 10}


async def test_in_flight_every_request_is_sent_once_and_each_row_counts_its_own_time() -> None:
    outcome, seen = await _paired(_pairs(60), warmup=0, block=20, concurrency=4, delays=(0, 0.05))
    for side, prefix in (("first", "/a/"), ("second", "/b/")):
        paths = [path for name, path, _ in seen if name == side]
        assert sorted(paths) == sorted(f"{prefix}{i}" for i in range(60))
    first, second = outcome["sides"]
    # The slow side's 60 requests at 4 in flight take at least 15 x 50 ms of its own blocks; the fast side's blocks
    # (no delay at all) are not charged with them.
    assert second["seconds"] >= 0.75
    assert first["seconds"] < second["seconds"] / 2
    assert len(first["latencies"]) == len(second["latencies"]) == 60


async def test_a_failure_is_counted_on_its_own_side() -> None:
    pairs = [(http_request("GET", "/a/0"), http_request("GET", "/missing")), *_pairs(3)]
    outcome, _ = await _paired(pairs, warmup=0, block=2, concurrency=1, delays=(0, 0))
    first, second = outcome["sides"]
    assert first["statuses"] == {200: 4}
    assert second["statuses"] == {200: 3, 404: 1}
    assert second["sample_failure"].startswith("404")
    assert first["sample_failure"] == ""


def test_a_pair_needs_as_many_requests_on_each_side() -> None:
    from benchmarks._http import Served, drive_paired

    served = Served([], "127.0.0.1", [1])
    with pytest.raises(ValueError, match="as many"):
        drive_paired(("a", served, [b"x"]), ("b", served, []))

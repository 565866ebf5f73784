"""The garbage collector of a serving process, set once the process has started.

A service builds most of what it will ever hold while it starts: modules, the app and its routes, models, compiled
statements, keys (some 150,000 objects in one of ours). CPython's collector walks all of them again in every full
collection, and its default young threshold (700 allocations, net) starts a collection several times inside a single
request, so each request's short-lived objects are promoted and walked again before they die. Measured in the
exchange's benchmark on a 2-core machine whose memory is slow: a full collection took 90 to 160 ms and a middle one
4 to 5 ms, 0.35 to 0.74 s of collecting in each server process over one `--quick` run; a full collection inside a
request is a p99 outlier (docs/benchmarks.md has the effect).

So once the outermost lifespan of a process has started (in the embedded sandbox the gateway's, which starts the
services inside it), `starting` settles the heap, once per process: one collection, then `gc.freeze()`, so that what
survived start-up is never walked again (it lives as long as the process anyway), and a young threshold of
`YOUNG` allocations, so that a request's objects are mostly freed by their reference counts before a collection
sees them. Reference cycles are still collected, only less often. Long-running Python servers commonly do the same
(CPython's documentation of `gc.freeze`; Instagram's write-up of its Django fleet).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

log = structlog.get_logger(__name__)

YOUNG = 20_000  # the young generation's threshold, against CPython's 700


class _Process:
    starting = 0  # lifespans of this process now starting
    settled = False


_process = _Process()


@contextmanager
def starting() -> Iterator[None]:
    """Around a lifespan's start-up: when the outermost one has started, the heap is settled (the first time)."""
    _process.starting += 1
    try:
        yield
    finally:
        _process.starting -= 1
    if _process.starting == 0:
        settle()


def settle() -> None:
    """Collect once, freeze what survives, raise the young threshold; once per process (later calls do nothing)."""
    if _process.settled:
        return
    _process.settled = True
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
    log.debug("heap.settled", frozen=gc.get_freeze_count(), young_threshold=YOUNG)

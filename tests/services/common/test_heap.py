"""A serving process settles its heap once its outermost lifespan has started: one collection, what survived frozen
out of the collector's sight, the young threshold raised; once per process, and not while a lifespan inside another
is still starting (the embedded sandbox starts the services inside the gateway's lifespan)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services.common import heap


@pytest.fixture
def settles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fresh process's state; each settling records how many lifespans were still starting then."""
    process = heap._Process()
    monkeypatch.setattr(heap, "_process", process)
    seen: list[int] = []
    monkeypatch.setattr(heap, "settle", lambda: seen.append(process.starting))
    return seen


def test_nested_start_ups_settle_once_the_outermost_has_started(settles: list[int]) -> None:
    with heap.starting():
        for _ in range(3):  # the services, inside the gateway's start-up
            with heap.starting():
                pass
        assert settles == []
    assert settles == [0]


def test_a_start_up_that_fails_settles_nothing_and_the_next_one_still_settles(settles: list[int]) -> None:
    with pytest.raises(RuntimeError), heap.starting(), heap.starting():
        raise RuntimeError("the database does not answer")
    assert settles == [] and heap._process.starting == 0
    with heap.starting():
        pass
    assert settles == [0]


def test_a_served_app_settles_its_process_once_it_has_started(tmp_path: Path) -> None:
    """In a fresh interpreter: before the lifespan, CPython's defaults; once it has started, what start-up built is
    frozen and the young threshold raised; a second app's start-up changes nothing more."""
    script = textwrap.dedent(
        f"""
        import asyncio, gc, json
        from services.consent.app import create_app
        from services.consent.config import ConsentSettings

        def settings(name):
            return ConsentSettings(_env_file=None, var_dir={str(tmp_path)!r},
                                   database_url="sqlite+aiosqlite:///{tmp_path}/" + name + ".db")

        freezes = []
        freeze = gc.freeze
        gc.freeze = lambda: (freezes.append(1), freeze())[1]

        async def main():
            seen = {{"before": [gc.get_threshold()[0], gc.get_freeze_count()]}}
            app = create_app(settings("a"))
            async with app.router.lifespan_context(app):
                seen["started"] = [gc.get_threshold()[0], gc.get_freeze_count()]
                other = create_app(settings("b"))
                async with other.router.lifespan_context(other):
                    seen["second"] = [gc.get_threshold()[0], len(freezes)]
            print(json.dumps(seen))

        asyncio.run(main())
        """
    )
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == [700, 0]
    young, frozen = seen["started"]
    assert young == heap.YOUNG and frozen > 10_000, seen
    assert seen["second"] == [heap.YOUNG, 1], "a process is settled once"

"""The suite's own pytest plugin: database backends and the rule-coverage meta-check.

- Every test that asks for `db_backend` runs twice: on SQLite and on PostgreSQL. The PostgreSQL variant is skipped
  with a visible reason where no server answers, unless DPI_REQUIRE_BACKENDS=1 (CI), where it fails instead.
- `@pytest.mark.rule("SG-...")` must name a rule of the catalogue: an unknown id fails the collection. The summary
  lists which catalogue rules have no test yet and counts the PostgreSQL tests that ran.
- Every gateway app any test builds is watched for a UIN in its answers (tests/egress.py, acceptance 4 of the gateway
  issue): a withheld answer outside a test marked `plants_uin`, or any UIN that leaves the gateway, fails the test.
- The summary ends with the run's wall time (`Wall time: 412.3 s for 2,310 tests on 4 workers`), the figure
  CONTRIBUTING.md tracks for CI: it must not grow.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests import egress

egress.install()  # before any conftest imports the gateway's factory

CATALOGUE = Path(__file__).resolve().parent.parent / "services" / "common" / "catalogue.yaml"
STARTED = pytest.StashKey[float]()


def catalogue_ids() -> frozenset[str]:
    import yaml

    if not CATALOGUE.exists():
        return frozenset()
    data = yaml.safe_load(CATALOGUE.read_text())
    return frozenset(rule["id"] for rule in data.get("rules", []))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", egress.MARKER_HELP)


@pytest.fixture(autouse=True)
def _gateway_egress(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up before, torn down after every other fixture of the test: sees every answer its gateways gave."""
    egress.LEDGER.take()
    yield
    egress.check(request.node)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[STARTED] = time.monotonic()


def wall_time_line(seconds: float, tests: int, workers: int) -> str:
    where = f"on {workers} workers" if workers else "in one process"
    return f"Wall time: {seconds:.1f} s for {tests:,} tests {where}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        metafunc.parametrize(
            "db_backend",
            [
                pytest.param("sqlite", id="sqlite"),
                pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
            ],
        )


def rule_ids_of(item: pytest.Item) -> list[str]:
    return [str(arg) for marker in item.iter_markers("rule") for arg in marker.args]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = catalogue_ids()
    unknown = sorted({(rule, item.nodeid) for item in items for rule in rule_ids_of(item) if rule not in known})
    if unknown and known:
        lines = "\n".join(f"  {rule} in {nodeid}" for rule, nodeid in unknown)
        raise pytest.UsageError(f"tests name rule ids that are not in the catalogue:\n{lines}")
    for item in items:
        # user_properties travel with each report, also from xdist workers to the controller's summary.
        item.user_properties.extend(("rule", rule) for rule in rule_ids_of(item))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    outcomes: Counter[str] = Counter()
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") in ("call", "setup") and "postgres" in getattr(report, "keywords", {}):
                if outcome == "passed" and report.when == "setup":
                    continue
                outcomes[outcome] += 1
    terminalreporter.section("PostgreSQL")
    terminalreporter.write_line(
        f"PostgreSQL tests: {outcomes['passed']} passed, {outcomes['failed'] + outcomes['error']} failed, "
        f"{outcomes['skipped']} skipped"
    )
    known = catalogue_ids()
    covered = {
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == "rule"
    }
    missing = sorted(known - covered)
    terminalreporter.section("Safeguard rule coverage")
    terminalreporter.write_line(f"{len(known & covered)} of {len(known)} catalogue rules have a tagged test.")
    if missing:
        terminalreporter.write_line("Rules with no test yet: " + ", ".join(missing))
    terminalreporter.section("Gateway egress (UIN)")
    terminalreporter.write_line(egress.summary(terminalreporter.stats))
    started = config.stash.get(STARTED, None)
    if started is not None:
        ran = sum(
            1
            for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
            for report in terminalreporter.stats.get(outcome, [])
            if getattr(report, "when", "call") == "call" or (outcome == "skipped" and report.when == "setup")
        )
        workers = getattr(config.option, "numprocesses", None)  # xdist resolves -n auto to a number
        terminalreporter.section("Wall time")
        terminalreporter.write_line(
            wall_time_line(time.monotonic() - started, ran, workers if isinstance(workers, int) else 0)
        )


def backends_required() -> bool:
    return os.environ.get("DPI_REQUIRE_BACKENDS") == "1"


def backend_unavailable(reason: str) -> NoReturn:
    """Skip the test with `reason`, or fail it where DPI_REQUIRE_BACKENDS=1 (CI machines run every backend)."""
    if backends_required():
        pytest.fail(f"DPI_REQUIRE_BACKENDS=1 but {reason}")
    pytest.skip(reason)

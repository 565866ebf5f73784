"""Scenarios run green on the embedded sandbox; an unexpected outcome stops the run and says which step and why;
the report names every rule the scenario demonstrates and opens offline."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from rich.console import Console
from typer.testing import CliRunner

from dpi_sandbox.cli import app as cli
from playbook.credentials import ClientCredentials
from playbook.loader import load_all
from playbook.model import Scenario, Step
from playbook.report import Report
from playbook.runner import RunResult, check, run, service_of
from playbook.sandbox import Embedded, embedded, embedded_sandbox
from services.common.rules import load_catalogue

SCENARIOS = sorted(load_all())
# A scenario that damages the sandbox (rewrites a stored audit entry) gets one of its own; the others share one,
# which also shows that each can run again on a sandbox that has already seen the rest.
DAMAGING = {
    name
    for name, scenario in load_all().items()
    if any(step.action is not None and step.action.name == "tamper_audit_entry" for step in scenario.steps)
}


@pytest.fixture
def console():
    return Console(record=True, width=120)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory):
    async with embedded_sandbox(tmp_path_factory.mktemp("shared-sandbox")) as sandbox:
        yield sandbox


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", SCENARIOS)
async def test_every_scenario_runs_green_on_the_embedded_sandbox(name, shared, tmp_path, console):
    scenario = load_all()[name]
    if name in DAMAGING:
        async with embedded_sandbox(tmp_path) as own:
            result = await _run(scenario, own, tmp_path, console)
    else:
        result = await _run(scenario, shared, shared.var_dir, console)
    assert result.ok, (result.failed.step.id, result.failed.reason) if result.failed else "not every step ran"
    report = Report(result)
    markdown = report.markdown()
    for rule in scenario.rules:
        assert f"`{rule}`" in markdown
    assert "```mermaid" in markdown
    html = report.html()
    assert not re.search(r"""(?:src|href)=["']https?://""", html), "the HTML report must open offline"
    assert "<svg" in html


async def _run(scenario: Scenario, sandbox: Embedded, var_dir: Path, console: Console) -> RunResult:
    credentials = ClientCredentials.for_sandbox(sandbox.client, var_dir, sandbox.clock.timestamp)
    return await run(
        scenario, sandbox.client, console=console, credentials=credentials, control=sandbox.control,
        now=sandbox.clock.timestamp,
    )  # fmt: skip


def test_the_scenarios_together_demonstrate_every_rule_of_the_catalogue():
    demonstrated = set().union(*(set(s.rules) for s in load_all().values()))
    missing = sorted(set(load_catalogue().ids) - demonstrated)
    assert not missing, f"no scenario demonstrates {', '.join(missing)}"
    assert len(load_catalogue().ids) == 35


def _with_step_expecting(scenario: Scenario, index: int, status: int) -> Scenario:
    steps = list(scenario.steps)
    expect = steps[index].expect
    assert expect is not None
    steps[index] = steps[index].model_copy(update={"expect": expect.model_copy(update={"status": status})})
    return scenario.model_copy(update={"steps": steps})


async def test_an_unexpected_outcome_stops_the_run_and_names_the_step(tmp_path, console):
    scenario = _with_step_expecting(load_all()["foundation"], 1, 418)
    async with embedded(tmp_path) as client:
        result = await run(scenario, client, console=console)
    assert not result.ok
    assert len(result.steps) == 2, "the run stops at the failed step"
    assert result.failed is not None and result.failed.step.id == scenario.steps[1].id
    assert result.failed.reason == "expected status 418, got 200"
    assert f"Step {scenario.steps[1].id} did not behave as expected" in console.export_text()
    assert "FAILED" in Report(result).markdown()


def test_the_sequence_diagram_follows_a_me_alias_to_the_service_behind_it():
    assert service_of("GET", "/consent/v1/me/consents?limit=5") == "consent"
    assert service_of("GET", "/me/consents") == "consent"
    assert service_of("POST", "/me/consents/con_1/revoke") == "consent"
    assert service_of("GET", "/me/corrections") == "identity"
    assert service_of("GET", "/me/payments") == "payments"
    assert service_of("GET", "/me/access-log") is None, "the gateway answers the access log itself"
    assert service_of("GET", "/governance/rules") is None


def test_a_text_answer_is_checked_for_every_piece_it_must_hold():
    step = Step.model_validate(
        {
            "id": "screen", "actor": "phone", "play": 1, "say": {"en": "A USSD screen."},
            "request": {"method": "POST", "path": "/channels/ussd"},
            "expect": {"status": 200, "text": ["CON Enter your VID", "${n} digits"]},
        }
    )  # fmt: skip
    screen = "CON Enter your VID (16 digits)"
    plain = httpx.Response(200, text=screen, headers={"content-type": "text/plain; charset=utf-8"})
    assert check(step, plain, {"n": 16}) == (True, "")
    other = httpx.Response(200, text="END Invalid choice.", headers={"content-type": "text/plain"})
    assert check(step, other, {"n": 16}) == (
        False, "the answer 'END Invalid choice.' does not hold 'CON Enter your VID'"
    )  # fmt: skip
    as_json = httpx.Response(200, json={"screen": screen})
    assert check(step, as_json, {"n": 16}) == (False, "expected a plain-text answer holding 'CON Enter your VID'")


def test_the_command_exits_non_zero_on_a_malformed_scenario(tmp_path, monkeypatch):
    bad = tmp_path / "scenarios"
    bad.mkdir()
    (bad / "broken.yaml").write_text("name: broken\ntitle: x\n", "utf-8")
    monkeypatch.setattr("playbook.loader.SCENARIOS_DIR", bad)
    monkeypatch.setattr("playbook.loader.load_all.__defaults__", (bad,))
    result = CliRunner().invoke(cli, ["playbook", "run", "broken", "--var-dir", str(tmp_path / "var")])
    assert result.exit_code == 2
    assert "broken.yaml:1" in result.output
    assert not (tmp_path / "var" / "reports").exists(), "nothing half-runs"


def test_the_command_runs_a_scenario_and_writes_its_report(tmp_path):
    result = CliRunner().invoke(cli, ["playbook", "run", "foundation", "--var-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for suffix in ("md", "html", "json"):
        assert (tmp_path / "reports" / f"foundation.{suffix}").is_file()

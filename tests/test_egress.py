"""The whole-run egress watch (tests/egress.py) must itself fail a run, or its silence would prove nothing: a pytest
session in a subprocess runs tests that plant a UIN with and without the marker, and one where the gateway's own
scan is switched off so that the UIN leaves the gateway."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dpi_sandbox.registry import entry

REPO = Path(__file__).resolve().parent.parent

INNER = """
import pytest

from services.identity.persons.uin import generate_uin
from tests.gateway.edge import as_caller


async def _caller(edge, plant=False):
    if plant:
        edge.upstream["identity"].plant("/v1/caller", generate_uin())
    return await edge.client.get("/identity/v1/caller", headers=as_caller("bank"))


async def test_unmarked_plant(edge):
    assert (await _caller(edge, plant=True)).status_code == 502


@pytest.mark.plants_uin
async def test_marked_plant(edge):
    assert (await _caller(edge, plant=True)).status_code == 502


async def test_clean(edge):
    assert (await _caller(edge)).status_code == 200


@pytest.mark.plants_uin
async def test_marked_without_plant(edge):
    assert (await _caller(edge)).status_code == 200


@pytest.mark.plants_uin
async def test_scan_switched_off(edge, monkeypatch):
    monkeypatch.setattr("gateway.proxy.service.carries_uin", lambda body: False)
    assert (await _caller(edge, plant=True)).status_code == 200
"""


def test_the_sandbox_registry_builds_watched_gateways():
    assert getattr(entry("gateway").factory, "egress_watched", False), "the embedded sandbox's gateway is watched"


@pytest.mark.slow
def test_a_detection_outside_a_marked_test_or_a_leak_fails_the_run(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(tmp_path / "test_inner.py"), "-k", "sqlite",
            "-c", str(REPO / "pyproject.toml"), "--rootdir", str(REPO),
            "-o", "addopts=-p tests.plugin --import-mode=importlib", "-p", "tests.conftest",
            "-p", "tests.gateway.conftest", "-p", "no:cacheprovider", f"--junitxml={report}", "-q",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "").split("[")[0]
        problems = [
            child.get("message", "") + (child.text or "") for child in case if child.tag in ("error", "failure")
        ]
        outcomes[name] = " ".join(problems) or "passed"
    assert outcomes["test_marked_plant"] == "passed"
    assert outcomes["test_clean"] == "passed"
    assert "not marked plants_uin" in outcomes["test_unmarked_plant"]
    assert "no gateway answer was withheld" in outcomes["test_marked_without_plant"]
    assert "a UIN left the gateway (SG-TOKEN-1, acceptance 4)" in outcomes["test_scan_switched_off"]
    assert "gateway answers scanned for a UIN; 2 withheld by the gateway's egress scan, in 2 tests" in run.stdout

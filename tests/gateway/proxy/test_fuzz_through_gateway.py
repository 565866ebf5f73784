"""Schemathesis through the gateway: every service's OpenAPI operations, called at the gateway under their prefix
with valid credentials (a caller holding every role), the gateway's own OpenAPI, and the aggregated one. No input
makes the gateway or a service behind it answer 5xx, and every answer matches the schema the service documents.

Bounded in the suite (DPI_FUZZ_EXAMPLES, default 8 per operation); the longer run on the governance page sets it to
200.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import Request
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from gateway.auth.caller import AuthenticatedCaller
from gateway.rules.routes import load_routes

EXAMPLES = int(os.environ.get("DPI_FUZZ_EXAMPLES", "8"))
SERVICES = ("identity", "payments", "consent", "exchange")


class EveryRole:
    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        table = load_routes()
        return AuthenticatedCaller(
            client_id="fuzzer", roles=table.roles, purposes=("KYC_ACCOUNT_OPENING",),
            subject_ref="sub_fuzzsubjectreference00000",
        )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    var_dir: Path = tmp_path_factory.mktemp("fuzz-gateway")
    asyncio.run(upgrade_all(all_settings(var_dir)))
    app = build_embedded(var_dir=var_dir, authenticator=EveryRole())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


def _fuzz(schema_document: dict[str, Any], base_url: str, examples: int = EXAMPLES) -> list[str]:
    schema = schemathesis.openapi.from_dict(schema_document)
    exercised = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):  # type: ignore[no-untyped-def]
            response = case.call(base_url=base_url)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )

        fuzz()
        exercised.append(f"{operation.method.upper()} {operation.path}")
    return exercised


@pytest.mark.parametrize("service", SERVICES)
def test_no_input_through_the_gateway_makes_anything_fail(sandbox_url: str, service: str) -> None:
    document = httpx.get(f"{sandbox_url}/{service}/openapi.json", timeout=120).json()
    exercised = _fuzz(document, f"{sandbox_url}/{service}")
    assert "GET /healthz" in exercised


def test_no_input_to_the_gateways_own_operations_makes_it_fail(sandbox_url: str) -> None:
    document = httpx.get(
        f"{sandbox_url}/openapi/gateway.json", timeout=120
    ).json()  # the gateway's own (/openapi.json: all)
    exercised = _fuzz(document, sandbox_url)
    assert "POST /governance/decide" in exercised


def test_no_input_through_the_aggregated_document_makes_anything_fail(sandbox_url: str) -> None:
    """The document a developer reads at /openapi.json (every service under its prefix, with the gateway's security
    schemes and problem answers): its answers match it too. Fewer examples: the operations are the ones above."""
    document = httpx.get(f"{sandbox_url}/openapi.json", timeout=120).json()
    exercised = _fuzz(document, sandbox_url, examples=max(1, EXAMPLES // 4))
    assert {"POST /identity/v1/kyc", "GET /payments/v1/parties/{party_id_type}/{party_identifier}"} <= set(exercised)
    assert "POST /governance/decide" in exercised

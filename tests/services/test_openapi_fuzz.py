"""Fuzzing every service's OpenAPI (schemathesis): no input makes a service answer 5xx, and every response matches
the schema the OpenAPI page documents. Each service runs under uvicorn on a real socket; every generated request
carries a fresh gateway assertion with every role, so the fuzzer reaches the handlers rather than the 401 wall.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from dpi_sandbox.registry import SERVICES, entry
from services.common.assertion import StaticJwks
from services.common.db import create_all, create_engine
from services.common.settings import ReplayStore
from tests.conftest import Gateway, _metadata_of

ALL_ROLES = (
    "subject", "relying_party", "registrar", "adjudicator", "assisted_operator", "auditor", "oversight", "trainer",
    "gateway_internal", "oidc_admin", "gateway", "purpose_admin",
)  # fmt: skip
SERVICE_NAMES = [service.name for service in SERVICES]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningService:
    def __init__(self, name: str, var_dir: Path) -> None:
        from services.common.clock import SystemClock
        from services.common.keys import SigningKey

        self.name = name
        self.gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
        service = entry(name)
        settings = service.settings_class(
            var_dir=var_dir, replay_store=ReplayStore.memory, log_level="WARNING",
            database_url=f"sqlite+aiosqlite:///{var_dir / (name + '.db')}",
        )  # fmt: skip
        engine = create_engine(settings.resolved_database_url)
        asyncio.run(create_all(engine, _metadata_of(name)))
        asyncio.run(engine.dispose())
        self.app = service.factory(settings, gateway_jwks=StaticJwks(self.gateway.jwks))
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, port=self.port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> RunningService:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, f"{self.name} did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module", params=SERVICE_NAMES)
def running_service(request, tmp_path_factory):
    with RunningService(request.param, tmp_path_factory.mktemp(request.param)) as service:
        yield service


def test_no_input_makes_a_service_fail(running_service):
    schema = schemathesis.openapi.from_dict(running_service.app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the service documents no operations"
    exercised = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):  # type: ignore[no-untyped-def]
            headers = running_service.gateway.headers(
                running_service.name, client_id="fuzzer", roles=ALL_ROLES, subject_ref="sub_fuzzsubjectreference00000"
            )
            response = case.call(base_url=running_service.base_url, headers=headers)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )

        fuzz()
        exercised.append(f"{operation.method.upper()} {operation.path}")
    assert "GET /healthz" in exercised

"""Fuzzing every service's OpenAPI (schemathesis), on SQLite and on PostgreSQL, with valid (positive) and invalid
(negative) examples of every operation: no input makes a service answer 5xx, and every answer is documented (its
status, its content type and its schema). Each service runs under uvicorn on a real socket; every generated request
carries a fresh gateway assertion with every role, so the fuzzer reaches the handlers rather than the 401 wall.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from dpi_sandbox.registry import SERVICES, entry
from services.common.assertion import StaticJwks
from services.common.db import create_all, create_engine
from services.common.settings import ReplayStore
from tests.conftest import POSTGRES_URL, Gateway, _metadata_of, _probe_postgres
from tests.plugin import backend_unavailable

ALL_ROLES = (
    "subject", "relying_party", "registrar", "adjudicator", "assisted_operator", "auditor", "oversight", "trainer",
    "gateway_internal", "oidc_admin",
    "exchange_admin", "law_enforcement", "civil_registrar", "social_registry_officer",  # the exchange's roles
    "gateway", "purpose_admin",  # the consent service's
)  # fmt: skip
SERVICE_NAMES = [service.name for service in SERVICES]
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningService:
    def __init__(self, name: str, var_dir: Path, backend: str = "sqlite") -> None:
        from services.common.clock import SystemClock
        from services.common.keys import SigningKey

        self.name = name
        self.gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
        service = entry(name)
        database: dict[str, str] = {"database_url": f"sqlite+aiosqlite:///{var_dir / (name + '.db')}"}
        if backend == "postgresql":
            database = {"database_url": POSTGRES_URL, "database_schema": f"t_{uuid.uuid4().hex[:16]}_fuzz_{name}"}
        settings = service.settings_class(
            _env_file=None, var_dir=var_dir, replay_store=ReplayStore.memory, log_level="WARNING", **database
        )
        self.schema = database.get("database_schema")
        asyncio.run(_create_tables(settings.resolved_database_url, name, self.schema))
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
        if self.schema is not None:
            asyncio.run(_drop_schema(self.schema))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _create_tables(url: str, name: str, schema: str | None) -> None:
    engine = create_engine(url, schema=schema)
    await create_all(engine, _metadata_of(name), schema)
    await engine.dispose()


async def _drop_schema(schema: str) -> None:
    engine = create_engine(POSTGRES_URL)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_backend(request):
    if request.param == "postgresql" and (reason := asyncio.run(_probe_postgres())):
        backend_unavailable(reason)
    return request.param


@pytest.fixture(scope="module", params=SERVICE_NAMES)
def running_service(request, fuzz_backend, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp(f"{request.param}-{fuzz_backend}")
    with RunningService(request.param, var_dir, fuzz_backend) as service:
        yield service


def test_no_input_makes_a_service_fail(running_service):
    schema = schemathesis.openapi.from_dict(running_service.app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the service documents no operations"
    exercised = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case):  # type: ignore[no-untyped-def]
                headers = running_service.gateway.headers(
                    running_service.name,
                    client_id="fuzzer",
                    roles=ALL_ROLES,
                    subject_ref="sub_fuzzsubjectreference00000",
                )
                response = case.call(base_url=running_service.base_url, headers=headers)
                case.validate_response(response, checks=CHECKS)

            try:
                fuzz()
            except Unsatisfiable:
                # Only an operation that takes no input at all has no invalid example.
                assert mode is GenerationMode.NEGATIVE and not _takes_input(operation.definition.raw), operation
                continue
            exercised.append(f"{mode.value} {operation.method.upper()} {operation.path}")
    assert "positive GET /healthz" in exercised
    documented_with_input = {
        f"{method.upper()} {path}"
        for path, ops in running_service.app.openapi()["paths"].items()
        for method, operation in ops.items()
        if _takes_input(operation)
    }
    assert documented_with_input <= {entry.split(" ", 1)[1] for entry in exercised if entry.startswith("negative")}
    assert len([entry for entry in exercised if entry.startswith("positive")]) == len(operations)


def _takes_input(operation: dict[str, object]) -> bool:
    return bool(operation.get("parameters") or operation.get("requestBody"))

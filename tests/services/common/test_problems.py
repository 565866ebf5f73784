"""Bad input and failures come back as RFC 9457 problem+json, never as a stack trace."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Body, FastAPI
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.common import rules
from services.common.logging import RequestIdMiddleware
from services.common.problems import PolicyDenied, install_problem_handlers


class _TooManyClients(Exception):
    """What asyncpg raises when the server is at max_connections (SQLSTATE 53300)."""

    sqlstate = "53300"


@pytest.fixture
async def client():
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware, service="probe")
    install_problem_handlers(app)
    router = APIRouter()

    @router.post("/echo")
    async def echo(amount: int = Body(embed=True)) -> dict[str, int]:
        return {"amount": amount}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: uin=123456789012")

    @router.get("/pool-full")
    async def pool_full() -> None:
        raise PoolTimeout("QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 30.00")

    @router.get("/too-many-clients")
    async def too_many_clients() -> None:
        raise DBAPIError("SELECT 1", None, _TooManyClients("sorry, too many clients already"))

    @router.get("/denied")
    async def denied() -> None:
        raise PolicyDenied("SG-MIN-2", "eKYC needs a purpose that allows it.")

    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        yield http


async def test_invalid_input_is_422_problem_naming_the_field(client):
    response = await client.post("/echo", json={"amount": "lots"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/common/invalid-input")
    assert body["errors"][0]["loc"] == ["body", "amount"]
    assert "body.amount" in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


async def test_unexpected_error_is_a_generic_500_without_internals(client):
    response = await client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    body = response.json()
    assert "secret" not in response.text and "123456789012" not in response.text
    assert body["request_id"] == "req-42"


@pytest.mark.rule("SG-GRIEV-1")
async def test_policy_denial_names_its_rule_and_where_to_complain(client):
    response = await client.get("/denied")
    assert response.status_code == 403
    body = response.json()
    assert body["rule_id"] == "SG-MIN-2"
    assert body["type"].endswith("/rules/SG-MIN-2")
    assert body["framework_refs"] == list(rules.rule("SG-MIN-2").framework_refs)
    assert body["title"] == rules.rule("SG-MIN-2").title
    assert body["grievance"] == rules.catalogue().grievance.model_dump(exclude_none=True)


async def test_unknown_route_is_a_problem_too(client):
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/pool-full", "/too-many-clients"])
async def test_no_database_connection_in_time_is_503_with_retry_after_not_500(client, path):
    """Overload (the pool stayed full past its timeout, or the server refused a connection) is not a defect: the
    client is told to back off and retry, and nothing leaks of the internals."""
    response = await client.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["code"] == "common.unavailable"
    assert "QueuePool" not in response.text and "too many clients" not in response.text

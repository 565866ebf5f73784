"""Bad input and failures come back as RFC 9457 problem+json, never as a stack trace."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Body, FastAPI

from services.common import rules
from services.common.logging import RequestIdMiddleware
from services.common.problems import PolicyDenied, install_problem_handlers


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

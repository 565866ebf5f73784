"""The suite-wide UIN scan (tests/conftest.py) must itself catch a leak, or its silence would prove nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.identity.persons.uin import generate_uin
from tests.conftest import UinEgressScan


def _app_answering(body: dict[str, str], leaks: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/persons/{person_id}")
    @app.get("/v1/vids")
    async def answer() -> dict[str, str]:
        return body

    app.add_middleware(UinEgressScan, leaks=leaks)
    return app


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_uin_outside_registrar_endpoints_is_reported(gateway):
    leaks: list[str] = []
    uin = generate_uin()
    app = _app_answering({"uin": uin, "id": "per_0123456789abcdef", "vid": "1234567890123456"}, leaks)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        await client.get("/v1/persons/p1", headers=gateway.headers("identity", roles=("registrar",)))
        assert leaks == [], "registrar endpoints may carry the UIN"
        await client.get("/v1/persons/p1", headers=gateway.headers("identity", roles=("relying_party",)))
        await client.get("/v1/vids", headers=gateway.headers("identity", roles=("registrar",)))
    assert leaks == [
        "GET /v1/persons/p1 (roles ['relying_party'])",
        "GET /v1/vids (roles ['registrar'])",
    ]


async def test_numbers_that_are_not_uins_are_not_reported(gateway):
    leaks: list[str] = []
    uin = generate_uin()
    wrong_check_digit = uin[:-1] + str((int(uin[-1]) + 1) % 10)
    app = _app_answering({"n": wrong_check_digit, "vid": "2" + uin + "123"}, leaks)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        await client.get("/v1/vids", headers=gateway.headers("identity", roles=("subject",)))
    assert leaks == []

"""The embedded sandbox: one process, the gateway in front, each service on its own SQLite file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import Request

from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from gateway.auth.caller import AuthenticatedCaller
from services.common.assertion import CallContext

SERVICES = ("identity", "payments", "consent", "exchange")


class TrustingAuthenticator:
    """Stands in for the gateway's client registry (a later issue) so these tests can reach protected paths."""

    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        return AuthenticatedCaller(client_id="rp-test", roles=("relying_party",), purposes=("TEST",))


async def _sandbox(var_dir: Path, **runtime):  # type: ignore[no-untyped-def]
    await upgrade_all(all_settings(var_dir))
    app = build_embedded(var_dir=var_dir, **runtime)
    return app


@pytest.fixture
async def sandbox(tmp_path):
    app = await _sandbox(tmp_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


async def test_gateway_and_every_service_answer_health_through_the_gateway(sandbox, tmp_path):
    assert (await sandbox.get("/healthz")).json()["service"] == "gateway"
    for name in SERVICES:
        health = await sandbox.get(f"/{name}/healthz")
        assert health.status_code == 200 and health.json()["service"] == name
        assert (await sandbox.get(f"/{name}/readyz")).status_code == 200
    status = (await sandbox.get("/services")).json()
    assert status["healthy"] is True
    assert sorted(s["service"] for s in status["services"]) == sorted(SERVICES)
    for name in (*SERVICES, "gateway"):
        assert (tmp_path / f"{name}.db").exists(), "each service keeps its own SQLite file"
    assert (tmp_path / "keys" / "gateway.es256.pem").stat().st_mode & 0o077 == 0, "private keys are owner-only"


@pytest.mark.rule("SG-SEC-1")
async def test_protected_paths_are_denied_by_default(sandbox):
    response = await sandbox.get("/identity/v1/caller")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_identity_oidc_discovery_is_public_through_the_gateway(sandbox):
    response = await sandbox.get("/identity/.well-known/openid-configuration")
    assert response.status_code == 200
    config = response.json()
    assert config["issuer"].endswith("/identity")
    assert config["code_challenge_methods_supported"] == ["S256"]


async def test_identity_offline_credential_status_list_is_public_through_the_gateway(sandbox):
    response = await sandbox.get("/identity/v1/credentials/status-lists/1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/statuslist+jwt")
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_unknown_service_is_a_problem(sandbox):
    response = await sandbox.get("/nonesuch/healthz")
    assert response.status_code == 404
    assert response.json()["code"] == "gateway.unknown_service"


async def test_every_service_publishes_its_own_key(sandbox):
    kids = {(await sandbox.get(f"/{name}/.well-known/jwks.json")).json()["keys"][0]["kid"] for name in SERVICES}
    assert len(kids) == len(SERVICES)


async def test_gateway_forwards_with_an_assertion_and_never_a_client_supplied_one(tmp_path):
    app = await _sandbox(tmp_path, authenticator=TrustingAuthenticator())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.get("/payments/v1/caller", headers={"X-Gateway-Assertion": "forged"})
            assert response.status_code == 200, response.text
            assert response.json()["client_id"] == "rp-test"
            assert response.json()["roles"] == ["relying_party"]
            # Each forwarded request carries a fresh assertion, so repeating a call is not a replay.
            assert (await client.get("/payments/v1/caller")).status_code == 200
            assert response.headers["x-request-id"]


async def test_services_reject_a_gateway_key_they_do_not_trust(tmp_path):
    """An assertion minted with some other key (say, a stolen test key) does not pass a service."""
    from services.common.assertion import AssertionMinter
    from services.common.clock import SystemClock
    from services.common.keys import SigningKey

    app = await _sandbox(tmp_path)
    identity = app.state.service_apps["identity"]
    async with identity.router.lifespan_context(identity):
        token = AssertionMinter(SigningKey.generate(), SystemClock()).mint("identity", CallContext(client_id="x"))
        transport = httpx.ASGITransport(app=identity, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
            assert (await client.get("/v1/caller", headers={"X-Gateway-Assertion": token})).status_code == 401

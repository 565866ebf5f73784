"""The client registry over HTTP: oversight registers and approves; relying parties need impact assessments
(SG-HRIA-1); nobody is usable before approval."""

from __future__ import annotations

import pytest

from gateway.auth.clients.models import ClientKind
from services.common.keys import SigningKey


@pytest.fixture
async def gw(make_gateway):  # type: ignore[no-untyped-def]
    return await make_gateway(client_jwks_uri_allowlist=["https://keys.gov.example/"])


@pytest.fixture
async def authority(gw):  # type: ignore[no-untyped-def]
    org = await gw.register("data-authority", ClientKind.oversight, roles=["oversight"], scopes=["clients"])
    return org, await gw.access_token(org)


def registration(client_id: str = "health-clinic", **overrides: object) -> dict:  # type: ignore[type-arg]
    body: dict[str, object] = {
        "client_id": client_id,
        "name": "Health Clinic",
        "kind": "relying_party",
        "scopes": ["identity"],
        "purposes": ["health_service"],
        "jurisdiction": "XA",
        "processing_location": "XA",
        "jwks": {"keys": [SigningKey.generate().public_jwk()]},
        "dpia_ref": "DPIA-7",
        "hria_ref": "HRIA-7",
    }
    body.update(overrides)
    return body


async def test_a_registered_client_is_pending_until_oversight_approves_it(gw, authority):
    org, token = authority
    created = await gw.call(org, "POST", "/clients", token, json=registration())
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending" and created.json()["registered_by"] == "data-authority"
    assert created.json()["roles"] == ["relying_party"] and created.json()["dpop_required"] is False
    pending = await gw.call(org, "GET", "/clients", await gw.access_token(org), params={"status": "pending"})
    assert [c["client_id"] for c in pending.json()["items"]] == ["health-clinic"]
    approved = await gw.call(org, "POST", "/clients/health-clinic/approve", await gw.access_token(org), json={})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == "data-authority"
    again = await gw.call(org, "POST", "/clients/health-clinic/approve", await gw.access_token(org), json={})
    assert again.status_code == 409


@pytest.mark.rule("SG-HRIA-1")
async def test_a_relying_party_without_impact_assessments_is_refused_with_sg_hria_1(gw, authority):
    org, token = authority
    for missing in ({"dpia_ref": None}, {"hria_ref": None}):
        response = await gw.call(org, "POST", "/clients", await gw.access_token(org), json=registration(**missing))
        assert response.status_code == 422
        assert response.json()["rule_id"] == "SG-HRIA-1"
    listed = await gw.call(org, "GET", "/clients", token)
    assert "health-clinic" not in [c["client_id"] for c in listed.json()["items"]]


async def test_money_moving_clients_are_registered_dpop_bound(gw, authority):
    org, token = authority
    body = registration("first-bank", kind="fsp", roles=["fsp"], dpop_required=False)
    response = await gw.call(org, "POST", "/clients", token, json=body)
    assert response.status_code == 201 and response.json()["dpop_required"] is True


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"jwks": {"keys": [{**SigningKey.generate().public_jwk(), "d": "secret"}]}}, "private key material"),
        ({"jwks": None}, "exactly one of jwks"),
        ({"jwks": None, "jwks_uri": "https://attacker.example/jwks.json"}, "allow-list"),
        ({"roles": ["oversight"]}, "may hold only the roles"),
    ],
)
async def test_bad_registrations_are_422_and_name_the_reason(gw, authority, overrides, reason):
    org, token = authority
    response = await gw.call(org, "POST", "/clients", token, json=registration(**overrides))
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


async def test_an_allow_listed_jwks_uri_is_accepted_and_duplicates_conflict(gw, authority):
    org, token = authority
    body = registration(jwks=None, jwks_uri="https://keys.gov.example/clinic/jwks.json")
    assert (await gw.call(org, "POST", "/clients", token, json=body)).status_code == 201
    assert (await gw.call(org, "POST", "/clients", await gw.access_token(org), json=body)).status_code == 409


@pytest.mark.parametrize("value", ["a\x00b", "x" * 500, "Clinic\u202e", "\u200b"])
async def test_hostile_text_is_422_never_a_5xx(gw, authority, value):
    org, token = authority
    response = await gw.call(org, "POST", "/clients", token, json=registration(name=value))
    assert response.status_code == 422


@pytest.mark.rule("SG-SEC-1")
async def test_only_oversight_approves(gw):
    trainer = await gw.register("workshop", ClientKind.trainer, scopes=["clients"])
    token = await gw.access_token(trainer)
    created = await gw.call(trainer, "POST", "/clients", token, json=registration())
    assert created.status_code == 201
    refused = await gw.call(trainer, "POST", "/clients/health-clinic/approve", await gw.access_token(trainer), json={})
    assert refused.status_code == 403 and refused.json()["rule_id"] == "SG-SEC-1"


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize(
    ("kind", "role"),
    [
        ("programme", "payments_operator"),
        ("fsp", "payments_operator"),
        ("registrars_office", "social_registry_officer"),
        ("relying_party", "exchange_admin"),
        ("trainer", "purpose_admin"),
        ("oversight", "civil_registrar"),
    ],
)
async def test_a_service_s_administrative_role_is_refused_to_the_organisations_that_use_it(gw, authority, kind, role):
    org, token = authority
    body = registration(f"{kind.replace('_', '-')}-x", kind=kind, roles=[role])
    response = await gw.call(org, "POST", "/clients", token, json=body)
    assert response.status_code == 422, response.text
    assert role in response.json()["detail"]


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize(
    ("kind", "role", "dpop"),
    [
        ("scheme_operator", "payments_operator", True),
        ("registry_office", "social_registry_officer", False),
        ("registry_office", "civil_registrar", False),
        ("platform_operator", "exchange_admin", False),
        ("platform_operator", "purpose_admin", False),
        ("grievance_office", "grievance_officer", False),
    ],
)
async def test_each_administrative_role_belongs_to_the_one_kind_whose_job_it_is(gw, authority, kind, role, dpop):
    org, token = authority
    body = registration(f"{kind.replace('_', '-')}-x", kind=kind, roles=[role], dpia_ref=None, hria_ref=None)
    response = await gw.call(org, "POST", "/clients", token, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["roles"] == [role]
    assert response.json()["dpop_required"] is dpop, "the scheme operator moves money: its tokens are DPoP-bound"

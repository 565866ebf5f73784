"""The directory: public to anyone (SG-TRANSP-1), written by the exchange operator only, consistent by construction."""

from __future__ import annotations

import pytest

from tests.exchange.exchange_helpers import ADMIN, CIVIL, SOCIAL, ExchangeApi


@pytest.mark.rule("SG-TRANSP-1")
async def test_members_services_access_rights_and_agreements_are_public(api: ExchangeApi):
    subsystem = await api.consumer("rp-benefits", grants={SOCIAL: (["income_band"], ["SOCIAL_CASH_TRANSFER"])})
    agreement = {
        "provider_member_id": "SBX:GOV:MSW",
        "consumer_member_id": "SBX:GOV:AGENCY",
        "title": "Eligibility checks",
        "summary": "The agency checks households' income band for the cash transfer.",
        "services": [SOCIAL],
        "purposes": ["SOCIAL_CASH_TRANSFER"],
        "legal_reference": "Social Assistance Act (sandbox) s.12",
        "signed_on": "2026-01-01",
    }
    await api.ok("POST", "/v1/agreements", 201, roles=ADMIN, json=agreement)

    members = (await api.public("/v1/members")).json()
    assert {"SBX:GOV:CRA", "SBX:GOV:MSW", "SBX:GOV:AGENCY"} <= {m["id"] for m in members}
    services = {s["id"]: s for s in (await api.public("/v1/services")).json()}
    assert services[CIVIL]["protected_fields"] == {"ethnicity": []}
    assert services[SOCIAL]["statutes"][0]["purpose"] == "SOCIAL_CASH_TRANSFER"
    rights = (await api.public(f"/v1/access-rights?client_subsystem={subsystem}")).json()
    assert [(r["service_id"], r["fields"]) for r in rights] == [(SOCIAL, ["income_band"])]
    (published,) = (await api.public("/v1/agreements")).json()
    assert published["title"] == "Eligibility checks"


@pytest.mark.rule("SG-TRANSP-1")
async def test_each_service_has_its_own_openapi_from_the_providers_description(api: ExchangeApi):
    response = await api.public(f"/v1/services/{SOCIAL}/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    assert list(document["paths"]) == ["/social/v1/persons/{subject}/household"]
    assert document["info"]["x-dpi-service-id"] == SOCIAL
    assert "ProviderRecord" in document["components"]["schemas"]


@pytest.mark.rule("SG-SEC-1")
async def test_only_the_exchange_operator_writes_the_directory(api: ExchangeApi):
    response = await api.call(
        "POST", "/v1/members", roles=("relying_party",), json={"member_class": "GOV", "code": "X", "name": "X"}
    )
    assert response.status_code == 403 and response.json()["rule_id"] == "SG-SEC-1"


async def test_an_access_right_only_to_fields_the_service_has(api: ExchangeApi):
    subsystem = await api.consumer("rp-x")
    response = await api.call(
        "PUT",
        f"/v1/services/{CIVIL}/access-rights",
        roles=ADMIN,
        json={"client_subsystem_id": subsystem, "fields": ["salary"], "purposes": ["X"]},
    )
    assert response.status_code == 422 and "salary" in response.json()["detail"]


async def test_registrations_are_unique(api: ExchangeApi):
    await api.consumer("rp-x")
    again = await api.call(
        "POST",
        "/v1/members/SBX:GOV:AGENCY/subsystems",
        roles=ADMIN,
        json={"code": "other", "client_id": "rp-x", "processing_location": "SB"},
    )
    assert again.status_code == 409
    unknown = await api.call(
        "POST", "/v1/members/SBX:GOV:NOPE/subsystems", roles=ADMIN, json={"code": "a", "processing_location": "SB"}
    )
    assert unknown.status_code == 404

"""Person references through the gateway (SG-TOKEN-1): what a caller presents becomes `sub` for the services, every
`sub` in an answer becomes the caller's own pairwise token, and an answer carrying a UIN is withheld."""

from __future__ import annotations

import pytest

from services.identity.persons.uin import generate_uin
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.gateway.rules.test_engine_over_http import PURPOSE, assert_denial

KYC = ("POST", "/v1/kyc")


@pytest.mark.rule("SG-TOKEN-1")
@pytest.mark.plants_uin
async def test_an_answer_carrying_a_uin_is_withheld_and_recorded(edge: Edge) -> None:
    uin = generate_uin()
    edge.upstream["identity"].plant("/v1/caller", f"the person {uin}")
    response = await edge.client.get("/identity/v1/caller", headers=as_caller("bank"))
    body = assert_denial(response, "SG-TOKEN-1", status=502)
    assert uin not in response.text
    assert edge.upstream["identity"].count("GET", "/v1/caller") == 1, "the provider answered; the answer stopped"
    event = await edge.audit_event(body["audit_event_id"])
    assert (event["decision"], event["status"], event["rule_ids"]) == ("deny", 502, ["SG-TOKEN-1"])


@pytest.mark.rule("SG-TOKEN-1")
async def test_registrar_endpoints_may_show_a_registrar_the_uin(edge: Edge) -> None:
    person = await edge.person()
    response = await edge.client.get(f"/identity/v1/persons/{person.person_id}", headers=as_caller("registrar"))
    assert response.status_code == 200, response.text
    assert person.uin in response.text


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_citizen_app_sees_its_pairwise_token_never_the_sub(edge: Edge) -> None:
    person = await edge.person()
    response = await edge.client.get("/identity/v1/caller", headers=as_caller(f"citizen:{person.sub}"))
    assert response.status_code == 200, response.text
    assert person.sub not in response.text
    assert response.json()["subject_ref"] == await edge.identity.pairwise_token(person.sub, "citizen-app")


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_relying_party_may_name_a_person_by_its_own_pairwise_token(edge: Edge) -> None:
    person = await edge.person()
    token = await edge.identity.pairwise_token(person.sub, "rp-bank")
    body = {"individual": {"type": "pairwise_token", "value": token}, "factor": {"type": "otp", "otp": "000000"}}
    response = await edge.client.post(
        "/identity/v1/kyc", json=body, headers=as_caller("bank", **{"X-Purpose": PURPOSE})
    )
    assert_denial(response, "SG-CONSENT-1")
    assert edge.consent.asked[-1]["subject"] == person.sub
    # another relying party's token names nobody for this one
    other = await edge.identity.pairwise_token(person.sub, "rp-agency")
    body["individual"]["value"] = other
    response = await edge.client.post(
        "/identity/v1/kyc", json=body, headers=as_caller("bank", **{"X-Purpose": PURPOSE})
    )
    assert_denial(response, "SG-TOKEN-1", status=401)
    assert edge.upstream["identity"].count(*KYC) == 0


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_revoked_vid_names_nobody(edge: Edge) -> None:
    person = await edge.person()
    vids = (await edge.identity.as_subject(person.sub, "GET", "/v1/me/vids")).json()
    vid_id = next(v["id"] for v in vids if v["vid"] == person.vid)
    assert (await edge.identity.as_subject(person.sub, "DELETE", f"/v1/me/vids/{vid_id}")).status_code == 200
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "otp", "otp": "000000"}}
    response = await edge.client.post(
        "/identity/v1/kyc", json=body, headers=as_caller("bank", **{"X-Purpose": PURPOSE})
    )
    assert_denial(response, "SG-TOKEN-1", status=401)
    assert edge.upstream["identity"].count(*KYC) == 0
    assert edge.consent.asked == [], "nobody's consent is asked about an unresolved reference"


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_uin_is_not_taken_where_the_gateway_must_know_the_person(edge: Edge) -> None:
    person = await edge.person()
    body = {"individual": {"type": "uin", "value": person.uin}, "factor": {"type": "otp", "otp": "000000"}}
    response = await edge.client.post(
        "/identity/v1/kyc", json=body, headers=as_caller("bank", **{"X-Purpose": PURPOSE})
    )
    assert_denial(response, "SG-TOKEN-1")
    assert edge.upstream["identity"].count(*KYC) == 0


@pytest.mark.rule("SG-ACCESS-2")
async def test_the_providers_disclosure_headers_go_into_the_audit_event_and_no_further(edge: Edge) -> None:
    edge.upstream["identity"].plant_headers(
        "/v1/caller", {"X-DPI-Fields-Returned": "name, household_size", "X-DPI-Disclose-After": "2027-01-01T00:00:00Z"}
    )
    response = await edge.client.get("/identity/v1/caller", headers=as_caller("police"))
    assert response.status_code == 200, response.text
    assert "x-dpi-fields-returned" not in response.headers
    assert "x-dpi-disclose-after" not in response.headers
    event = await edge.audit_event(response.json()["decision_id"])
    assert event["fields_returned"] == ["name", "household_size"]
    assert event["disclose_after"] == "2027-01-01T00:00:00.000000Z"


@pytest.mark.rule("SG-TOKEN-1")
@pytest.mark.plants_uin
async def test_a_public_answer_carrying_a_uin_is_withheld_too(edge: Edge) -> None:
    uin = generate_uin()
    edge.upstream["identity"].plant("/healthz", uin)
    response = await edge.client.get("/identity/healthz")
    body = assert_denial(response, "SG-TOKEN-1", status=502)
    assert uin not in response.text
    event = await edge.audit_event(body["audit_event_id"])
    assert (event["decision"], event["actor"], event["action"]) == ("deny", "anonymous", "GET /identity/healthz")


async def test_an_answer_lost_on_the_way_back_is_a_502_and_the_decision_is_still_recorded(edge: Edge) -> None:
    edge.upstream["identity"].lose_answers("/v1/caller")
    response = await edge.client.get("/identity/v1/caller", headers=as_caller("bank"))
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["type"].endswith("gateway/upstream-unavailable")
    assert edge.upstream["identity"].count("GET", "/v1/caller") == 1, "the service acted: it may have changed something"
    event = await edge.audit_event(body["audit_event_id"])
    assert (event["decision"], event["status"], event["action"]) == ("permit", 502, "GET /identity/v1/caller")


@pytest.mark.rule("SG-TOKEN-1")
async def test_an_answer_naming_a_person_is_withheld_when_no_pairwise_token_can_be_issued(edge: Edge) -> None:
    person = await edge.person()
    edge.upstream["identity"].lose_answers(f"/v1/subjects/{person.sub}/pairwise-token")
    response = await edge.client.get("/identity/v1/caller", headers=as_caller(f"citizen:{person.sub}"))
    assert response.status_code == 502, response.text
    assert person.sub not in response.text
    event = await edge.audit_event(response.json()["audit_event_id"])
    assert (event["decision"], event["status"]) == ("permit", 502)

"""The governance routes: the catalogue and the route table are public (SG-TRANSP-1); the dry run says which rules
would deny a request and why, calls no provider, and is itself in the audit log."""

from __future__ import annotations

import pytest

from gateway.rules.catalogue import catalogue
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.gateway.rules.test_engine_over_http import PURPOSE

KYC = ("POST", "/v1/kyc")


def _kyc_question(person, **context):  # type: ignore[no-untyped-def]
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "otp", "otp": "000000"}}
    return {"method": "POST", "path": "/identity/v1/kyc", "body": body, **context}


@pytest.mark.rule("SG-TRANSP-1")
async def test_the_catalogue_is_public(edge: Edge) -> None:
    response = await edge.client.get("/governance/rules")
    assert response.status_code == 200
    body = response.json()
    assert {rule["id"] for rule in body["rules"]} == catalogue().ids
    assert body["frameworks"]["UDPI-SF"]["url"].startswith("https://")


@pytest.mark.rule("SG-TRANSP-1")
async def test_the_route_table_is_public(edge: Edge) -> None:
    response = await edge.client.get("/governance/routes")
    assert response.status_code == 200
    kyc = next(route for route in response.json()["routes"] if route["id"] == "identity.kyc")
    assert kyc["path"] == "/identity/v1/kyc"
    assert kyc["roles"] == ["relying_party"]
    assert kyc["rules"][:2] == ["SG-OVERSIGHT-1", "SG-SEC-1"]
    assert "SG-CONSENT-1" in kyc["rules"]
    assert "full_name" in kyc["releases"]


async def test_the_dry_run_needs_a_caller(edge: Edge) -> None:
    response = await edge.client.post("/governance/decide", json={"method": "GET", "path": "/identity/v1/caller"})
    assert response.status_code == 401


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-PURPOSE-1")
async def test_the_dry_run_reports_every_rule_that_would_deny(edge: Edge) -> None:
    person = await edge.person()
    question = _kyc_question(person, channel="assisted")
    response = await edge.client.post("/governance/decide", json=question, headers=as_caller("operator"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["allowed"] is False
    assert answer["route_id"] == "identity.kyc"
    assert answer["denied_by"] == ["SG-SEC-1", "SG-INCL-3", "SG-PURPOSE-1"]
    outcomes = {rule["rule_id"]: rule for rule in answer["rules"]}
    assert outcomes["SG-SEC-1"]["status"] == 403 and outcomes["SG-SEC-1"]["framework_refs"]
    assert outcomes["SG-CONSENT-1"]["outcome"] == "not_evaluated"
    assert outcomes["SG-MIN-1"]["outcome"] == "on_response"
    assert outcomes["SG-MIN-2"]["outcome"] == "by_provider"
    assert edge.upstream["identity"].count(*KYC) == 0
    assert edge.consent.asked == []
    event = await edge.audit_event(answer["audit_event_id"])
    assert event["dry_run"] is True
    assert event["decision"] == "deny"
    assert event["rule_ids"] == ["SG-SEC-1", "SG-INCL-3", "SG-PURPOSE-1"]


@pytest.mark.rule("SG-CONSENT-1")
async def test_the_dry_run_of_a_permitted_request_calls_no_provider(edge: Edge) -> None:
    person = await edge.person()
    await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name"])
    question = _kyc_question(person, purpose=PURPOSE)
    answer = (await edge.client.post("/governance/decide", json=question, headers=as_caller("bank"))).json()
    assert answer["allowed"] is True, answer
    assert answer["denied_by"] == []
    assert edge.upstream["identity"].count(*KYC) == 0
    assert len(edge.consent.asked) == 1
    event = await edge.audit_event(answer["audit_event_id"])
    assert (event["dry_run"], event["decision"], event["sub"]) == (True, "permit", person.sub)


@pytest.mark.rule("SG-CONSENT-1")
async def test_the_dry_run_spends_no_consent_use(edge: Edge) -> None:
    person = await edge.person()
    consent_id = await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name"], use_count=1)
    question = _kyc_question(person, purpose=PURPOSE)
    for _ in range(3):
        answer = (await edge.client.post("/governance/decide", json=question, headers=as_caller("bank"))).json()
        assert answer["allowed"] is True, "a single-use consent still permits: no dry run took its use"
    assert [asked["dry_run"] for asked in edge.consent.asked] == [True, True, True]
    assert await edge.consent.uses(consent_id) == 0
    event = await edge.audit_event(answer["audit_event_id"])
    assert (event["dry_run"], event["decision"]) == (True, "permit")


@pytest.mark.rule("SG-SEC-1")
async def test_the_dry_run_of_an_undeclared_operation(edge: Edge) -> None:
    question = {"method": "POST", "path": "/identity/v1/subjects/resolve"}
    answer = (await edge.client.post("/governance/decide", json=question, headers=as_caller("bank"))).json()
    assert (answer["allowed"], answer["route_id"], answer["denied_by"]) == (False, None, ["SG-SEC-1"])

"""The assisted channel (SG-INCL-3) as an operator at a desk uses it for a person without an app: the person's own
one-time code or PIN confirms every action, and every audit event names the channel, the operator and the
confirmation. Consent revoke, access log, grievance and correction, over HTTP through the gateway."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.channels.channel_helpers import bank_authenticates
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.identity.access_helpers import Enrolled, latest_otp

PIN = "482913"
OPERATOR = "field-desk:op-17"


def _person(person: Enrolled, kind: str, code: str) -> dict[str, Any]:
    return {"vid": person.vid, "confirmation": {"type": kind, "code": code}}


async def _otp(edge: Edge, person: Enrolled) -> str:
    response = await edge.client.post(
        "/channels/assisted/otp", json={"operator_id": "op-17", "vid": person.vid}, headers=as_caller("operator")
    )
    assert response.status_code == 202, response.text
    assert "@" in response.json()["destination"] or "*" in response.json()["destination"]
    return await latest_otp(edge.identity, person.sub)


async def _with_pin(edge: Edge) -> Enrolled:
    person = await edge.person()
    response = await edge.identity.as_subject(person.sub, "PUT", "/v1/me/pin", json={"pin": PIN})
    assert response.status_code == 200, response.text
    return person


def _assisted_events(events: list[dict[str, Any]], sub: str) -> list[dict[str, Any]]:
    return [e for e in events if e["sub"] == sub and e["channel"] == "assisted"]


@pytest.mark.rule("SG-INCL-3")
async def test_an_operator_revokes_a_consent_with_the_persons_one_time_code(edge: Edge) -> None:
    person = await edge.person()
    consent_id = await edge.consent.grant("rp-bank", person.sub, "KYC_ACCOUNT_OPENING", ["full_name"])
    code = await _otp(edge, person)
    body = {"operator_id": "op-17", "person": _person(person, "otp", code), "consent_id": consent_id}
    response = await edge.client.post(
        "/channels/assisted/consent-revocations", json=body, headers=as_caller("operator")
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"]["status"] == "revoked"
    assert answer["assisted_by"] == OPERATOR
    revoked = await edge.consent.api.call(
        "GET", f"/v1/me/consents/{consent_id}", roles=("subject",), subject_ref=person.sub
    )
    assert revoked.json()["status"] == "revoked", revoked.text
    events = _assisted_events(await edge.audit_events(), person.sub)
    revoke = next(e for e in events if e["action"] == "POST /consent/v1/me/consents/{consent_id}/revoke")
    assert revoke["decision"] == "permit"
    assert revoke["assisted_by"] == OPERATOR
    assert revoke["actor"] == "field-desk"
    assert revoke["confirmation"] == answer["confirmation"]
    assert revoke["confirmation"].startswith("otp:")
    # identity recorded the confirmation itself, with the operator, in the person's auth history
    history = await edge.identity.as_subject(person.sub, "GET", "/v1/me/auth-history")
    entry = next(e for e in history.json()["items"] if e["id"] == revoke["confirmation"].removeprefix("otp:"))
    assert (entry["factor"], entry["result"], entry["assisted_by"]) == ("assisted", "success", OPERATOR)


@pytest.mark.rule("SG-INCL-3")
async def test_without_the_persons_confirmation_nothing_is_done_for_them(edge: Edge) -> None:
    person = await edge.person()
    consent_id = await edge.consent.grant("rp-bank", person.sub, "KYC_ACCOUNT_OPENING", ["full_name"])
    await _otp(edge, person)
    body = {"operator_id": "op-17", "person": _person(person, "otp", "000000"), "consent_id": consent_id}
    response = await edge.client.post(
        "/channels/assisted/consent-revocations", json=body, headers=as_caller("operator")
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert edge.upstream["consent"].count("POST", f"/v1/me/consents/{consent_id}/revoke") == 0
    # an organisation that is not an assisted desk cannot act for anyone, whatever it carries
    bank = await edge.client.post("/channels/assisted/consent-revocations", json=body, headers=as_caller("bank"))
    assert bank.status_code == 403
    assert bank.json()["rule_id"] == "SG-SEC-1"
    # a VID nobody holds is refused under SG-TOKEN-1 before identity checks any code
    stranger = {**body, "person": {"vid": "1234567890123452", "confirmation": {"type": "pin", "code": PIN}}}
    unknown = await edge.client.post(
        "/channels/assisted/consent-revocations", json=stranger, headers=as_caller("operator")
    )
    assert unknown.status_code in (401, 422), unknown.text


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-ACCESS-1")
async def test_an_operator_reads_the_persons_access_log_for_them_with_their_pin(edge: Edge) -> None:
    person = await _with_pin(edge)
    await bank_authenticates(edge, person)  # an access the person's log then shows
    body = {"operator_id": "op-17", "person": _person(person, "pin", PIN)}
    response = await edge.client.post("/channels/assisted/access-log", json=body, headers=as_caller("operator"))
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    assert any(
        e["record"]["actor"] == "rp-bank" and e["record"]["action"] == "POST /identity/v1/authn" for e in entries
    )
    reading = [e for e in _assisted_events(await edge.audit_events(), person.sub) if "access-log" in e["action"]]
    assert len(reading) == 1
    assert reading[0]["assisted_by"] == OPERATOR
    assert reading[0]["confirmation"].startswith("pin:")
    assert "SG-ACCESS-1" in reading[0]["rule_ids"]


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-GRIEV-1")
async def test_an_operator_files_a_grievance_for_the_person(edge: Edge) -> None:
    person = await _with_pin(edge)
    grievance = {"category": "exclusion", "description": "Turned away at the clinic without a card.", "channel": "web"}
    body = {"operator_id": "op-17", "person": _person(person, "pin", PIN), "grievance": grievance}
    response = await edge.client.post("/channels/assisted/grievances", json=body, headers=as_caller("operator"))
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert (ticket["channel"], ticket["assisted_by"], ticket["status"]) == ("assisted", OPERATOR, "received")
    own = await edge.client.get(f"/me/grievances/{ticket['id']}", headers=as_caller(f"citizen:{person.sub}"))
    assert own.status_code == 200, own.text
    filed = [e for e in _assisted_events(await edge.audit_events(), person.sub) if "grievances" in e["action"]]
    assert len(filed) == 1 and filed[0]["assisted_by"] == OPERATOR and filed[0]["confirmation"].startswith("pin:")


@pytest.mark.rule("SG-INCL-3")
async def test_an_operator_asks_for_a_correction_for_the_person(edge: Edge) -> None:
    person = await _with_pin(edge)
    correction = {"field": "family_name", "value": "Okafor-Nwosu", "reason": "Misspelt at enrolment."}
    body = {"operator_id": "op-17", "person": _person(person, "pin", PIN), "correction": correction}
    response = await edge.client.post("/channels/assisted/corrections", json=body, headers=as_caller("operator"))
    assert response.status_code == 201, response.text
    case = response.json()["result"]
    assert (case["field"], case["status"], case["channel"]) == ("family_name", "open", "assisted")
    mine = await edge.identity.as_subject(person.sub, "GET", "/v1/me/corrections")
    assert [c["id"] for c in mine.json()["items"]] == [case["id"]]
    asked = [e for e in _assisted_events(await edge.audit_events(), person.sub) if "corrections" in e["action"]]
    assert len(asked) == 1 and asked[0]["assisted_by"] == OPERATOR and asked[0]["decision"] == "permit"

"""Inclusion through the gateway, over HTTP: a person without a foundational ID who asks for an essential service is
answered 202 with an exception case, never 401/403 (SG-INCL-1); a biometric failure offers the alternatives, and each
one works, the assisted desk included (SG-INCL-2, SG-INCL-3)."""

from __future__ import annotations

import pytest

from tests.gateway.channels.channel_helpers import bank_authenticates
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.identity.access_helpers import TEMPLATE, enrolled, latest_otp

NO_ID = {"purpose": "SOCIAL_CASH_TRANSFER", "evidence_type": "community_attestation", "evidence_reference": "VILLAGE-7"}


@pytest.mark.rule("SG-INCL-1")
@pytest.mark.parametrize("caller", ["clinic", "operator"])
async def test_no_foundational_id_is_202_with_an_exception_case_never_401_or_403(edge: Edge, caller: str) -> None:
    context = {"X-Channel": "assisted", "X-Assisted-By": "field-desk:op-17"} if caller == "operator" else {}
    response = await edge.client.post(
        "/identity/v1/identity-exceptions", json=NO_ID, headers=as_caller(caller, **context)
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["case_id"].startswith("iex_") and accepted["status"] == "pending"
    assert accepted["sla_due_at"] and accepted["grievance"]["href"]
    followed = await edge.client.get(f"/identity{accepted['status_href']}", headers=as_caller(caller))
    assert followed.status_code == 200, followed.text
    case = followed.json()
    assert case["status"] == "pending" and case["purpose"] == "SOCIAL_CASH_TRANSFER"
    assert case["assisted_by"] == ("field-desk:op-17" if caller == "operator" else None)
    event = [e for e in await edge.audit_events() if e["action"] == "POST /identity/v1/identity-exceptions"][-1]
    assert (event["decision"], event["status"], event["sub"]) == ("permit", 202, None)
    # the registrar's queue has it, to verify within the published time limit
    queue = await edge.client.get("/identity/v1/identity-exceptions", headers=as_caller("registrar"))
    assert accepted["case_id"] in {c["id"] for c in queue.json()["items"]}


@pytest.mark.rule("SG-INCL-1")
async def test_an_exception_request_with_no_id_at_all_is_never_refused_for_the_missing_id(edge: Edge) -> None:
    for evidence_type in ("alternative_document", "community_attestation", "assisted_attestation", "other"):
        body = {**NO_ID, "evidence_type": evidence_type}
        response = await edge.client.post("/identity/v1/identity-exceptions", json=body, headers=as_caller("clinic"))
        assert response.status_code == 202, (evidence_type, response.text)
    # the exception path is for those who serve people; a citizen app or an auditor is not one
    for other in ("auditor", "trainer"):
        refused = await edge.client.post("/identity/v1/identity-exceptions", json=NO_ID, headers=as_caller(other))
        assert refused.status_code == 403 and refused.json()["rule_id"] in ("SG-SEC-1", "SG-OVERSIGHT-1")


@pytest.mark.rule("SG-INCL-2")
async def test_a_biometric_failure_offers_the_alternatives_and_each_works(edge: Edge) -> None:
    person = await enrolled(edge.identity, biometric_template=TEMPLATE, consents={"biometric": True, "notices": True})
    smudged = {"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "biometric", "template": "x"}}
    for _ in range(3):
        failed = await edge.client.post("/identity/v1/authn", json=smudged, headers=as_caller("bank"))
        assert failed.status_code == 401, failed.text  # never 403 or 423: nobody is locked out
    problem = failed.json()
    assert problem["rule_id"] == "SG-INCL-2"
    assert problem["alternatives"] == ["otp", "pin", "offline_qr", "assisted"]
    assert problem["locked"] is False
    # the first alternative: a one-time code, through the gateway, right after
    await bank_authenticates(edge, person)
    # another: the assisted desk, with the person's own code (SG-INCL-3)
    sent = await edge.client.post(
        "/channels/assisted/otp", json={"operator_id": "op-17", "vid": person.vid}, headers=as_caller("operator")
    )
    assert sent.status_code == 202, sent.text
    body = {
        "operator_id": "op-17",
        "person": {
            "vid": person.vid,
            "confirmation": {"type": "otp", "code": await latest_otp(edge.identity, person.sub)},
        },
    }
    helped = await edge.client.post("/channels/assisted/access-log", json=body, headers=as_caller("operator"))
    assert helped.status_code == 200, helped.text
    failures = [e for e in helped.json()["entries"] if e["record"]["status"] == 401]
    assert len(failures) == 3  # the person sees the failed attempts in their own access log


@pytest.mark.rule("SG-INCL-2")
async def test_biometric_failure_on_the_assisted_desk_is_not_a_dead_end(edge: Edge) -> None:
    person = await enrolled(edge.identity, biometric_template=TEMPLATE, consents={"biometric": False, "notices": False})
    asked = {"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "biometric", "template": TEMPLATE}}
    response = await edge.client.post(
        "/identity/v1/authn",
        json=asked,
        headers=as_caller("operator", **{"X-Channel": "assisted", "X-Assisted-By": "field-desk:op-17"}),
    )
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "biometric.not_enrolled"
    assert "assisted" in response.json()["alternatives"] and "otp" in response.json()["alternatives"]

"""SG-GRIEV-3 through the gateway: a person asks for a correction of their identity data at /me/corrections, gets a
tracked case with its published time limit, the registrar decides it through the gateway, and the fix reaches the
record without changing the token any relying party knows the person by."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller

pytestmark = pytest.mark.rule("SG-GRIEV-3")


async def test_a_correction_asked_at_me_is_a_tracked_case_decided_through_the_gateway(edge: Edge) -> None:
    person = await edge.person()
    citizen = as_caller(f"citizen:{person.sub}")
    token_before = await edge.identity.pairwise_token(person.sub, "rp-bank")

    asked = await edge.client.post(
        "/me/corrections",
        json={"field": "family_name", "value": "Okafor-Nwosu", "reason": "Misspelt at enrolment."},
        headers=citizen,
    )
    assert asked.status_code == 201, asked.text
    case = asked.json()
    assert case["status"] == "open"
    assert case["due_at"] > case["created_at"], "the case carries its time limit"

    mine = await edge.client.get("/me/corrections", headers=citizen)
    assert mine.status_code == 200, mine.text
    assert [c["id"] for c in mine.json()["items"]] == [case["id"]]

    refused = await edge.client.post(
        f"/identity/v1/corrections/{case['id']}/decision", json={"decision": "approve"}, headers=citizen
    )
    assert refused.status_code == 403 and refused.json()["rule_id"] == "SG-SEC-1", "a person cannot approve their own"
    decided = await edge.client.post(
        f"/identity/v1/corrections/{case['id']}/decision", json={"decision": "approve"}, headers=as_caller("registrar")
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"

    record = await edge.identity.person(person.person_id)
    assert record["family_name"] == "Okafor-Nwosu"
    assert await edge.identity.pairwise_token(person.sub, "rp-bank") == token_before
    actions = [(e["action"], e["decision"]) for e in await edge.audit_events() if e["sub"] == person.sub]
    assert ("POST /identity/v1/me/corrections", "permit") in actions

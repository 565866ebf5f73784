"""A person's own addresses at the gateway (/me/...): each alias is declared as data in routes.yaml, forwards to the
service's subject route under the same rules and audit event, and is listed in the aggregated OpenAPI. Anything under
/me that is not declared does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.rules.routes import load_routes
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.payments.payments_helpers import PaymentsApi, pay


def _citizen(sub: str) -> dict[str, str]:
    return as_caller(f"citizen:{sub}")


@pytest.mark.rule("SG-SEC-1")
async def test_a_person_reaches_their_own_routes_under_me(edge: Edge) -> None:
    person = await edge.person()
    vids = await edge.client.get("/me/vids", headers=_citizen(person.sub))
    assert vids.status_code == 200, vids.text
    direct = await edge.client.get("/identity/v1/me/vids", headers=_citizen(person.sub))
    assert vids.json() == direct.json()
    assert edge.upstream["identity"].count("GET", "/v1/me/vids") == 2
    created = await edge.client.post("/me/vids", json={}, headers=_citizen(person.sub))
    assert created.status_code == 201, created.text
    for path in ("/me/auth-factors", "/me/corrections", "/me/auth-history", "/me/consents", "/me/receipts"):
        response = await edge.client.get(path, headers=_citizen(person.sub))
        assert response.status_code == 200, (path, response.text)
    events = [e for e in await edge.audit_events() if e["sub"] == person.sub]
    assert {"GET /identity/v1/me/vids", "POST /identity/v1/me/vids", "GET /consent/v1/me/consents"} <= {
        e["action"] for e in events
    }


@pytest.mark.rule("SG-CONSENT-4")
async def test_a_person_revokes_a_consent_at_me(edge: Edge) -> None:
    person = await edge.person()
    consent_id = await edge.consent.grant("rp-bank", person.sub, "KYC_ACCOUNT_OPENING", ["full_name"])
    listed = await edge.client.get("/me/consents", headers=_citizen(person.sub))
    assert [c["id"] for c in listed.json()["items"]] == [consent_id]
    revoked = await edge.client.post(f"/me/consents/{consent_id}/revoke", headers=_citizen(person.sub))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    receipts = await edge.client.get("/me/receipts", headers=_citizen(person.sub))
    assert receipts.status_code == 200 and receipts.json()["items"], receipts.text
    event = [e for e in await edge.audit_events() if e["action"].endswith("/revoke")][-1]
    assert (event["decision"], event["sub"], event["channel"]) == ("permit", person.sub, "web")


@pytest.mark.rule("SG-SEC-1")
async def test_me_is_deny_by_default(edge: Edge) -> None:
    person = await edge.person()
    bank = await edge.client.get("/me/vids", headers=as_caller("bank"))
    assert bank.status_code == 403
    assert bank.json()["rule_id"] == "SG-SEC-1"
    assert edge.upstream["identity"].count("GET", "/v1/me/vids") == 0
    undeclared = await edge.client.get("/me/persons", headers=_citizen(person.sub))
    assert undeclared.status_code in (403, 404), undeclared.text
    assert undeclared.headers["content-type"] == "application/problem+json"
    wrong_method = await edge.client.put("/me/vids", json={}, headers=_citizen(person.sub))
    assert wrong_method.status_code == 405


async def test_every_alias_is_in_the_aggregated_openapi(edge: Edge) -> None:
    response = await edge.client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    served = {"identity", "consent"}  # the services behind this gateway; payments' aliases come with payments
    aliases = [r for r in load_routes() if r.alias is not None and r.service in served]
    assert len(aliases) >= 20
    for route in aliases:
        operation = paths[route.alias][route.method.lower()]
        assert operation["operationId"].startswith("me_")
        assert route.gateway_path.split("{")[0] in operation["description"]
    revoke = paths["/me/consents/{consent_id}/revoke"]["post"]
    assert revoke["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("consent.ConsentRead")
    assert "403" in revoke["responses"] and revoke["security"]


def test_aliases_do_not_shadow_the_gateways_own_me_routes() -> None:
    from gateway.app import SPEC

    own = {
        (method, getattr(route, "path", ""))
        for router in SPEC.public_routers
        for route in router.routes
        if getattr(route, "include_in_schema", False)
        for method in getattr(route, "methods", ())
    }
    aliases = {(r.method, r.alias) for r in load_routes() if r.alias is not None}
    assert not own & aliases
    assert ("GET", "/me/access-log") in own and ("POST", "/me/grievances") in own


@pytest.mark.rule("SG-SEC-1")
async def test_a_person_reaches_their_payment_links_under_me(full_edge: Edge) -> None:
    person = await full_edge.person()
    listed = await full_edge.client.get("/me/payment-links", headers=_citizen(person.sub))
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [], "next_cursor": None}
    # an account that is not the person's cannot be linked as theirs; the service's answer comes back as it is
    foreign = await full_edge.client.post(
        "/me/payment-links", json={"fsp_id": "bank-a", "address": "6001"}, headers=_citizen(person.sub)
    )
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["instance"] == "/me/payment-links"
    assert full_edge.upstream["payments"].count("POST", "/v1/me/payment-links") == 1
    actions = [e["action"] for e in await full_edge.audit_events() if e["sub"] == person.sub]
    assert "GET /payments/v1/me/payment-links" in actions and "POST /payments/v1/me/payment-links" in actions


@pytest.mark.rule("SG-SEC-1")
async def test_a_person_reads_the_payments_they_received_under_me(full_edge: Edge, gateway: Any) -> None:
    person = await full_edge.person()
    api = PaymentsApi(full_edge.services["payments"], gateway)
    mine = await api.open_account("bank-b", owner=person.sub)
    payer = await api.open_account("bank-a", owner="sub-someone-else")
    await api.fund(payer["id"], "50.00")
    await pay(api, "t-gw-1", payer, mine, "20.00")
    response = await full_edge.client.get("/me/payments", headers=_citizen(person.sub))
    assert response.status_code == 200, response.text
    [payment] = response.json()["items"]
    assert (payment["payment_id"], payment["amount"], payment["state"]) == (
        "t-gw-1",
        {"amount": "20.00", "currency": "USD"},
        "paid",
    )
    assert payment["record_id"]
    for organisation in ("bank", "programme"):
        denied = await full_edge.client.get("/me/payments", headers=as_caller(organisation))
        assert denied.status_code == 403, (organisation, denied.text)
        assert denied.json()["rule_id"] == "SG-SEC-1"
    assert full_edge.upstream["payments"].count("GET", "/v1/me/payments") == 1
    events = [e for e in await full_edge.audit_events() if e["action"] == "GET /payments/v1/me/payments"]
    assert [(e["decision"], e["sub"], e["actor_type"]) for e in events] == [
        ("permit", person.sub, "subject"),
        ("deny", None, "organisation"),
        ("deny", None, "organisation"),
    ]
    paths = (await full_edge.client.get("/openapi.json")).json()["paths"]
    assert paths["/me/payments"]["get"]["operationId"].startswith("me_")

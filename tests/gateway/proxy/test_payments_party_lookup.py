"""The payee lookup through the gateway (SG-TOKEN-1): a PERSONAL_ID in the path is what the caller knows (a VID or
its own pairwise token), payments receives the person's `sub` in its place, and the answer names the person by the
caller's pairwise token; a wallet number is no person reference and passes as it is."""

from __future__ import annotations

import pytest

from gateway.rules.routes import load_routes
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.gateway.rules.test_engine_over_http import assert_denial
from tests.payments.payments_helpers import PaymentsApi


async def _linked_wallet(edge: Edge, gateway, sub: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    payments = PaymentsApi(edge.services["payments"], gateway)
    wallet = await payments.open_account("momo", owner=sub, kind="wallet", address="+000555100")
    link = {"fsp_id": "momo", "address": wallet["address"], "person_ref": sub}
    assert (await payments.fsp("momo", "POST", "/v1/mapper/links", json=link)).status_code == 201
    return wallet


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_payee_named_by_vid_or_pairwise_token_is_looked_up_by_sub(full_edge: Edge, gateway) -> None:
    person = await full_edge.person()
    await _linked_wallet(full_edge, gateway, person.sub)

    by_vid = await full_edge.client.get(f"/payments/v1/parties/PERSONAL_ID/{person.vid}", headers=as_caller("fsp"))
    assert by_vid.status_code == 200, by_vid.text
    assert (by_vid.json()["fsp_id"], by_vid.json()["address"]) == ("momo", "+000555100")
    assert full_edge.upstream["payments"].count("GET", f"/v1/parties/PERSONAL_ID/{person.sub}") == 1
    token = by_vid.json()["party_identifier"]
    assert token.startswith("tok_") and person.sub not in by_vid.text, "the answer names the person by the token"

    by_token = await full_edge.client.get(f"/payments/v1/parties/PERSONAL_ID/{token}", headers=as_caller("fsp"))
    assert by_token.status_code == 200, by_token.text
    assert by_token.json() == by_vid.json()
    assert full_edge.upstream["payments"].count("GET", f"/v1/parties/PERSONAL_ID/{person.sub}") == 2


@pytest.mark.rule("SG-TOKEN-1")
async def test_a_personal_id_that_is_no_reference_is_refused_before_payments(full_edge: Edge) -> None:
    person = await full_edge.person()
    for presented in (person.sub, person.uin, "someone"):
        response = await full_edge.client.get(f"/payments/v1/parties/PERSONAL_ID/{presented}", headers=as_caller("fsp"))
        assert_denial(response, "SG-TOKEN-1", status=422)
    assert sum(full_edge.upstream["payments"].calls.values()) == 0, "payments was never asked"


async def test_a_wallet_number_is_passed_as_it_is(full_edge: Edge, gateway) -> None:
    person = await full_edge.person()
    await _linked_wallet(full_edge, gateway, person.sub)
    response = await full_edge.client.get("/payments/v1/parties/MSISDN/+000555100", headers=as_caller("fsp"))
    assert response.status_code == 200, response.text
    assert response.json()["party_identifier"] == "+000555100"
    assert full_edge.upstream["payments"].count("GET", "/v1/parties/MSISDN/+000555100") == 1


def test_the_route_declares_its_person_reference() -> None:
    route = load_routes().get("payments.party_lookup")
    assert (route.subject.source, route.subject.name) == ("path", "party_identifier")
    assert route.subject.applies({"party_id_type": "PERSONAL_ID"})
    assert not route.subject.applies({"party_id_type": "MSISDN"})
    assert "SG-TOKEN-1" in route.rules


@pytest.mark.rule("SG-NOTIFY-1")
async def test_a_person_is_told_who_looked_up_or_resolved_where_their_money_goes(full_edge: Edge, gateway) -> None:
    from tests.gateway.oversight.rig import inbox

    person = await full_edge.person()
    await _linked_wallet(full_edge, gateway, person.sub)
    looked_up = await full_edge.client.get(f"/payments/v1/parties/PERSONAL_ID/{person.vid}", headers=as_caller("fsp"))
    resolved = await full_edge.client.get(f"/payments/v1/mapper/resolve?ref={person.vid}", headers=as_caller("fsp"))
    assert looked_up.status_code == resolved.status_code == 200, (looked_up.text, resolved.text)
    for answer in (looked_up, resolved):
        assert "x-dpi-fields-returned" not in answer.headers, (
            "what was released is the gateway's record, not the caller's"
        )
    events = {e["action"]: e for e in await full_edge.audit_events() if e["sub"] == person.sub}
    assert events["GET /payments/v1/parties/{party_id_type}/{party_identifier}"]["fields_returned"] == [
        "fsp_id", "address", "account_kind",
    ]  # fmt: skip
    assert events["GET /payments/v1/mapper/resolve"]["fields_returned"] == ["fsp_id", "address", "address_kind"]

    assert (await full_edge.app.state.notices.run_once()).sent == 2
    notices = await inbox(full_edge, person.sub, "data_access")
    assert len(notices) == 2 and all("fsp-1" in n["body"] and "address" in n["body"] for n in notices), notices

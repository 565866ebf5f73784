"""SG-TOKEN-1: each relying party sees a person only as its own stable token; the gateway resolves tokens to `sub`."""

from __future__ import annotations

import re

import pytest

from tests.identity.identity_helpers import GATEWAY, another_person, events

pytestmark = pytest.mark.rule("SG-TOKEN-1")

TOKEN = re.compile(r"^tok_[a-z2-7]{26}$")


async def test_two_relying_parties_get_different_tokens_one_gets_a_stable_one(api):
    person = await api.enrolled()

    bank = await api.pairwise_token(person["sub"], "rp-bank-1")
    clinic = await api.pairwise_token(person["sub"], "rp-clinic-7")
    bank_again = await api.pairwise_token(person["sub"], "rp-bank-1")

    assert TOKEN.match(bank) and TOKEN.match(clinic)
    assert bank != clinic
    assert bank_again == bank
    assert person["uin"] not in bank + clinic


async def test_two_people_get_different_tokens_at_one_relying_party(api):
    first, second = await api.enrolled(), await api.enrolled()
    assert await api.pairwise_token(first["sub"], "rp-bank-1") != await api.pairwise_token(second["sub"], "rp-bank-1")


async def test_a_token_resolves_to_the_sub_for_its_own_relying_party_only(api):
    person = await api.enrolled()
    token = await api.pairwise_token(person["sub"], "rp-bank-1")

    resolved = await api.resolve("pairwise_token", token, "rp-bank-1")
    elsewhere = await api.resolve("pairwise_token", token, "rp-clinic-7")

    assert resolved.status_code == 200, resolved.text
    assert resolved.json() == {"sub": person["sub"], "reference_type": "pairwise_token"}
    assert elsewhere.status_code == 401
    assert elsewhere.json()["code"] == "identity.reference_unknown"
    assert elsewhere.json()["rule_id"] == "SG-TOKEN-1"


async def test_issuing_a_token_is_recorded_once(api, identity):
    person = await api.enrolled()
    for _ in range(3):
        await api.pairwise_token(person["sub"], "rp-bank-1")
    [event] = await events(identity, "identity.pairwise_token.registered")
    assert event["payload"] == {"person_id": person["person_id"], "relying_party_id": "rp-bank-1"}


async def test_a_pending_or_unknown_subject_gets_no_token(api):
    response = await api.call(
        "POST", "/v1/subjects/sub_nobody/pairwise-token", roles=GATEWAY, json={"relying_party_id": "rp-bank-1"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "identity.subject_not_found"


async def test_a_pairwise_token_needs_its_relying_party(api):
    response = await api.resolve("pairwise_token", "tok_abc")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "value"]


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize("roles", [("relying_party",), ("registrar",), ("subject",)])
async def test_only_the_gateway_resolves_and_issues_tokens(api, roles):
    person = await api.enrolled(another_person())
    issue = await api.call(
        "POST", f"/v1/subjects/{person['sub']}/pairwise-token", roles=roles, json={"relying_party_id": "rp-bank-1"}
    )
    resolve = await api.call(
        "POST", "/v1/subjects/resolve", roles=roles, json={"type": "vid", "value": "2345678901234560"}
    )
    assert issue.status_code == resolve.status_code == 403
    assert issue.json()["rule_id"] == resolve.json()["rule_id"] == "SG-SEC-1"

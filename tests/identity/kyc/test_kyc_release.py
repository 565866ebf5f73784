"""eKYC releases only what a KYC purpose allows AND the consent covers, and never the UIN (SG-MIN-2)."""

from __future__ import annotations

import json

import pytest
from jose import jwt

from tests.identity.access_helpers import RELYING_PARTY, call, enrolled, request_otp
from tests.identity.identity_helpers import SUBJECT, events

PURPOSE = "KYC_ACCOUNT_OPENING"  # allows full_name, date_of_birth, address by default


async def _kyc(api, person, consented, *, roles=RELYING_PARTY, requested=None, factor=None, **context):
    """The gateway, having verified the consent artefact, names its data items in the assertion; the person takes
    part with a one-time code sent at the bank's request, unless `factor` says otherwise."""
    if factor is None:
        factor = {"type": "otp", "otp": await request_otp(api, person)}
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": factor}
    if requested is not None:
        body["attributes"] = requested
    if "consent_id" in context:
        context["consented_items"] = tuple(consented)
    return await call(api, "POST", "/v1/kyc", roles=roles, client_id="rp-bank", json=body, **context)


@pytest.mark.rule("SG-MIN-2")
async def test_without_a_purpose_it_is_denied(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["full_name"], consent_id="cns_1")
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-MIN-2"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.rule("SG-MIN-2")
async def test_a_purpose_without_a_kyc_policy_is_denied(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["full_name"], purpose="BENEFIT_ELIGIBILITY", consent_id="cns_1")
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-MIN-2"


@pytest.mark.rule("SG-MIN-2")
async def test_without_a_consent_it_is_denied(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["full_name"], purpose=PURPOSE)
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-MIN-2"


@pytest.mark.rule("SG-MIN-2")
async def test_only_the_intersection_of_purpose_and_consent_is_released(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["full_name", "date_of_birth", "phone"], purpose=PURPOSE, consent_id="cns_7")
    assert response.status_code == 200, response.text
    body = response.json()
    record = await api.person(person.person_id)
    assert body["attributes"] == {
        "full_name": f"{record['given_name']} {record['family_name']}",
        "date_of_birth": record["date_of_birth"],
    }
    assert body["withheld"] == ["phone"]
    assert body["purpose"] == PURPOSE and body["consent_id"] == "cns_7"
    assert body["subject_token"].startswith("tok_")
    assert person.uin not in response.text and "uin" not in body["attributes"]

    jwks = (await api.svc.client.get("/.well-known/jwks.json")).json()
    claims = jwt.decode(body["signed_kyc"], jwks, algorithms=["ES256"], audience="rp-bank")
    assert claims["attributes"] == body["attributes"]
    assert claims["sub"] == body["subject_token"]


@pytest.mark.rule("SG-MIN-2")
async def test_nothing_in_common_is_denied(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["phone", "email"], purpose=PURPOSE, consent_id="cns_7")
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-MIN-2"


async def test_the_uin_cannot_even_be_asked_for(api) -> None:
    person = await enrolled(api)
    response = await _kyc(
        api, person, ["full_name"], requested=["uin", "full_name"], purpose=PURPOSE, consent_id="cns_7"
    )
    assert response.status_code == 422


async def test_a_consent_naming_the_uin_still_releases_no_uin(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["uin", "full_name"], purpose=PURPOSE, consent_id="cns_7")
    assert response.status_code == 200, response.text
    assert set(response.json()["attributes"]) == {"full_name"}
    assert person.uin not in response.text


async def test_only_relying_parties_ask(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["full_name"], roles=("registrar",), purpose=PURPOSE, consent_id="cns_7")
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


async def test_the_release_is_recorded_and_announced(api) -> None:
    person = await enrolled(api)
    response = await _kyc(api, person, ["full_name", "address"], purpose=PURPOSE, consent_id="cns_7")
    assert response.status_code == 200

    history = await call(api, "GET", "/v1/me/auth-history", roles=SUBJECT, subject_ref=person.sub)
    [entry] = history.json()["items"]
    assert (entry["operation"], entry["factor"], entry["result"]) == ("kyc", "otp", "success")
    assert entry["purpose"] == PURPOSE
    assert entry["attributes"] == ["full_name", "address"]
    assert entry["relying_party"] == "rp-bank"

    [event] = await events(api.svc, "identity.kyc.released")
    assert event["payload"]["consent_id"] == "cns_7"
    assert event["payload"]["attributes"] == ["full_name", "address"]
    assert "Mensah" not in json.dumps(event["payload"])


@pytest.mark.rule("SG-MIN-2")
async def test_the_relying_party_cannot_widen_the_consent(api) -> None:
    """What the consent covers comes from the gateway's assertion; asking for more in the body releases nothing more."""
    person = await enrolled(api)
    response = await _kyc(
        api, person, ["full_name"], requested=["full_name", "address"], purpose=PURPOSE, consent_id="cns_8"
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["attributes"]) == {"full_name"}
    assert response.json()["withheld"] == ["address"]


@pytest.mark.rule("SG-MIN-2")
async def test_a_consent_id_without_verified_items_is_denied(api) -> None:
    person = await enrolled(api)
    code = await request_otp(api, person)
    body = {
        "individual": {"type": "vid", "value": person.vid},
        "attributes": ["full_name"],
        "factor": {"type": "otp", "otp": code},
    }
    response = await call(
        api, "POST", "/v1/kyc", roles=RELYING_PARTY, client_id="rp-bank", json=body, purpose=PURPOSE, consent_id="c"
    )
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-MIN-2"


async def test_the_person_must_take_part_and_a_failed_factor_releases_nothing(api) -> None:
    person = await enrolled(api)
    without = await call(
        api, "POST", "/v1/kyc", roles=RELYING_PARTY, client_id="rp-bank", purpose=PURPOSE, consent_id="cns_9",
        consented_items=("full_name",), json={"individual": {"type": "vid", "value": person.vid}},
    )  # fmt: skip
    assert without.status_code == 422

    code = await request_otp(api, person)
    not_the_code = f"{(int(code) + 1) % 10**6:06d}"
    wrong = await _kyc(
        api, person, ["full_name"], factor={"type": "otp", "otp": not_the_code}, purpose=PURPOSE, consent_id="cns_9"
    )
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["reason"] == "otp.mismatch"
    assert "Mensah" not in wrong.text and "attributes" not in wrong.json()

    history = await call(api, "GET", "/v1/me/auth-history", roles=SUBJECT, subject_ref=person.sub)
    [entry] = history.json()["items"]
    assert (entry["operation"], entry["factor"], entry["result"]) == ("kyc", "otp", "failure")
    assert entry["attributes"] == []
    assert await events(api.svc, "identity.kyc.released") == []
    assert len(await events(api.svc, "identity.authn.failed")) == 1


async def test_a_policy_denial_spends_none_of_the_persons_code(api) -> None:
    person = await enrolled(api)
    code = await request_otp(api, person)
    factor = {"type": "otp", "otp": code}
    denied = await _kyc(api, person, ["full_name"], factor=factor, purpose="BENEFIT_ELIGIBILITY", consent_id="c1")
    assert denied.status_code == 403 and denied.json()["rule_id"] == "SG-MIN-2"
    released = await _kyc(api, person, ["full_name"], factor=factor, purpose=PURPOSE, consent_id="c1")
    assert released.status_code == 200, released.text

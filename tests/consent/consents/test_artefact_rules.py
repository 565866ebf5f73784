"""POST /v1/consents: what an artefact must say and may not say, each refusal naming its rule and its field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.consent.consents.schemas import REQUIRED_FIELDS


def refused(response, rule_id: str, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["rule_id"] == rule_id, body
    assert body["errors"][0]["loc"] == ["body", field], body
    assert body["grievance"]["href"]


async def stored_consents(api) -> list[dict]:  # type: ignore[no-untyped-def]
    page = await api.call("GET", "/v1/me/consents", roles=("subject",), subject_ref="sub_amara")
    return page.json()["items"]  # type: ignore[no-any-return]


@pytest.mark.rule("SG-CONSENT-2")
@pytest.mark.parametrize("field", REQUIRED_FIELDS)
async def test_each_required_field_dropped_is_refused_naming_it(api, field):
    await api.purpose("CASH")
    body = api.artefact("CASH")
    del body[field]
    response = await api.call("POST", "/v1/consents", roles=("relying_party",), json=body)
    refused(response, "SG-CONSENT-2", field)
    assert await stored_consents(api) == [], "nothing is stored"


@pytest.mark.rule("SG-CONSENT-2")
async def test_an_empty_item_list_or_jurisdiction_is_missing_information(api):
    await api.purpose("CASH")
    refused(await api.request("CASH", data_items=[]), "SG-CONSENT-2", "data_items")
    refused(await api.request("CASH", jurisdiction=[]), "SG-CONSENT-2", "jurisdiction")


@pytest.mark.rule("SG-CONSENT-2")
async def test_the_artefact_carries_the_plain_language_notice_in_the_subjects_language(api):
    await api.purpose("CASH")
    response = await api.call(
        "POST", "/v1/consents", roles=("relying_party",), json=api.artefact("CASH"), headers={"Accept-Language": "fr"}
    )
    assert response.status_code == 201, response.text
    consent = response.json()
    assert consent["notice"]["language"] == "fr"
    assert consent["notice"]["title"] == "Éligibilité au transfert"
    assert consent["requester"] == "rp-social-agency"
    assert (consent["status"], consent["version"]) == ("requested", 1)

    missing = await api.requested("CASH", language="ar")
    assert missing["notice"] | {"description": None} == {
        "language": "en", "requested_language": "ar", "fell_back": True, "title": "Cash transfer eligibility",
        "description": None,
    }, "no Arabic text: English, and the artefact says so"  # fmt: skip


@pytest.mark.rule("SG-CONSENT-3")
@pytest.mark.parametrize("purpose", ["*", "CASH*", "all"])
async def test_a_wildcard_purpose_is_refused(api, purpose):
    await api.purpose("CASH")
    refused(await api.request(purpose), "SG-CONSENT-3", "purpose")


@pytest.mark.rule("SG-CONSENT-3")
@pytest.mark.parametrize(
    "items", [["*"], ["household_size", "*"], ["household_%"], ["household_size", "household_size"]]
)
async def test_wildcard_or_repeated_items_are_refused(api, items):
    await api.purpose("CASH")
    refused(await api.request("CASH", data_items=items), "SG-CONSENT-3", "data_items")


@pytest.mark.rule("SG-CONSENT-3")
async def test_two_purposes_in_one_artefact_are_refused(api):
    await api.purpose("CASH")
    await api.purpose("HOUSING")
    refused(await api.request(["CASH", "HOUSING"]), "SG-CONSENT-3", "purpose")


@pytest.mark.rule("SG-CONSENT-6")
async def test_an_optional_use_bundled_with_an_essential_service_is_refused(api):
    await api.purpose("CASH", essential=True)
    await api.purpose("ANALYTICS", essential=False, dpv_purpose="dpv:ResearchAndDevelopment")
    refused(await api.request(["CASH", "ANALYTICS"]), "SG-CONSENT-6", "purpose")


@pytest.mark.rule("SG-CONSENT-6")
async def test_revoking_an_optional_consent_leaves_the_essential_one_permitting(api):
    await api.purpose("CASH", essential=True)
    await api.purpose("ANALYTICS", essential=False, dpv_purpose="dpv:ResearchAndDevelopment")
    await api.granted("CASH")
    analytics = await api.granted("ANALYTICS")
    assert (await api.act(analytics["id"], "revoke")).status_code == 200
    assert (await api.decide("ANALYTICS"))["rule_id"] == "SG-CONSENT-4"
    assert (await api.decide("CASH"))["decision"] == "permit"


@pytest.mark.rule("SG-PURPOSE-1")
async def test_an_unknown_or_draft_purpose_or_an_item_it_does_not_allow_is_refused(api):
    refused(await api.request("NOT_REGISTERED"), "SG-PURPOSE-1", "purpose")
    await api.purpose("DRAFTED", approve=False)
    refused(await api.request("DRAFTED"), "SG-PURPOSE-1", "purpose")
    await api.purpose("CASH")
    refused(await api.request("CASH", data_items=["religion_code"]), "SG-PURPOSE-1", "data_items")


@pytest.mark.rule("SG-CONSENT-5")
async def test_validity_beyond_the_purposes_maximum_is_refused(api, clock):
    await api.purpose("CASH", max_validity_days=90)
    ten_years = (clock.now() + timedelta(days=3650)).isoformat()
    refused(await api.request("CASH", expires_at=ten_years), "SG-CONSENT-5", "expires_at")
    refused(await api.request("CASH", expires_at=clock.now().isoformat()), "SG-CONSENT-5", "expires_at")
    naive = (clock.now() + timedelta(days=3)).replace(tzinfo=None).isoformat()
    refused(await api.request("CASH", expires_at=naive), "SG-CONSENT-5", "expires_at")
    past_start = (clock.now() - timedelta(days=1)).isoformat()
    refused(await api.request("CASH", valid_from=past_start), "SG-CONSENT-5", "valid_from")
    # Valid ISO 8601, but year 10000 (or year 0) once in UTC: refused by the rule, not a 500 from the conversion.
    for field, value in (("expires_at", "9999-12-31T23:00:00-05:00"), ("valid_from", "0001-01-01T01:00:00+05:00")):
        refused(await api.request("CASH", **{field: value}), "SG-CONSENT-5", field)
    ninety = (clock.now() + timedelta(days=90)).isoformat()
    assert (await api.request("CASH", expires_at=ninety)).status_code == 201


@pytest.mark.rule("SG-RETAIN-1")
async def test_a_data_life_beyond_the_purposes_maximum_is_refused(api):
    await api.purpose("CASH", max_data_life_days=30)
    refused(await api.request("CASH", data_life={"unit": "month", "value": 2}), "SG-RETAIN-1", "data_life")
    assert (await api.request("CASH", data_life={"unit": "day", "value": 30})).status_code == 201


@pytest.mark.rule("SG-XBORDER-1")
async def test_an_unapproved_jurisdiction_needs_a_transfer_basis(api):
    await api.purpose("CASH")
    refused(await api.request("CASH", jurisdiction=["XS", "XX"]), "SG-XBORDER-1", "transfer_basis")
    accepted = await api.request("CASH", jurisdiction=["XX"], transfer_basis="Standard contractual clauses 2026/3")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["jurisdiction"] == ["XX"]


async def test_only_relying_parties_request_consents(api):
    await api.purpose("CASH")
    response = await api.call("POST", "/v1/consents", roles=("subject",), subject_ref="s", json=api.artefact("CASH"))
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


@pytest.mark.parametrize(
    "override",
    [
        {"subject": "a\x00b"},
        {"subject": "x" * 5000},
        {"purpose": "CA\u200bSH"},
        {"data_items": ["x" * 100]},
        {"revoke_url": "javascript:alert(1)"},
        {"expires_at": "not a date"},
        {"data_life": {"unit": "fortnight", "value": 1}},
        {"use_count": 0},
    ],
)
async def test_malformed_values_get_a_problem_never_a_5xx(api, override):
    await api.purpose("CASH")
    body = api.artefact("CASH") | override
    response = await api.call("POST", "/v1/consents", roles=("relying_party",), json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_retried_request_with_its_idempotency_key_creates_one_artefact(api):
    await api.purpose("CASH")
    body = api.artefact("CASH")
    headers = {"Idempotency-Key": "ask-amara-2026-03"}
    first = await api.call("POST", "/v1/consents", roles=("relying_party",), json=body, headers=headers)
    again = await api.call("POST", "/v1/consents", roles=("relying_party",), json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await stored_consents(api)) == 1

    other = await api.call(
        "POST",
        "/v1/consents",
        roles=("relying_party",),
        json=body | {"data_items": ["household_size"]},
        headers=headers,
    )
    assert (other.status_code, other.json()["code"]) == (422, "common.idempotency_key_reused")
    assert len(await stored_consents(api)) == 1


async def test_a_refused_artefact_is_not_remembered_under_its_key(api):
    await api.purpose("CASH")
    headers = {"Idempotency-Key": "retry-after-fix"}
    refused_first = await api.call(
        "POST", "/v1/consents", roles=("relying_party",), json=api.artefact("CASH", data_items=["*"]), headers=headers
    )
    assert refused_first.status_code == 422
    fixed = await api.call("POST", "/v1/consents", roles=("relying_party",), json=api.artefact("CASH"), headers=headers)
    assert fixed.status_code == 201, fixed.text

"""The purpose registry: public, multilingual, and nothing goes live without oversight's approval."""

from __future__ import annotations

import pytest

from tests.consent.consent_helpers import OVERSIGHT, PURPOSE_ADMIN, purpose_body


def refused(response, rule_id: str, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.json()["rule_id"] == rule_id
    assert response.json()["errors"][0]["loc"] == ["body", field]


@pytest.mark.rule("SG-HRIA-1")
@pytest.mark.parametrize("field", ["dpia_ref", "hria_ref"])
async def test_a_purpose_without_its_impact_assessments_is_refused(api, field):
    body = purpose_body("CASH")
    del body[field]
    refused(await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=body), "SG-HRIA-1", field)
    assert (await api.call("GET", "/v1/purposes/CASH", roles=("relying_party",))).status_code == 404


@pytest.mark.rule("SG-HRIA-1")
async def test_a_purpose_stays_a_draft_until_oversight_approves_it(api):
    draft = await api.purpose("CASH", approve=False)
    assert (draft["status"], draft["approved_by"]) == ("draft", None)
    assert (await api.decide("CASH"))["rule_id"] == "SG-PURPOSE-1", "a draft serves nothing"

    by_admin = await api.call(
        "POST", "/v1/purposes/CASH/approval", roles=PURPOSE_ADMIN, json={"dpia_ref": "x", "hria_ref": "y"}
    )
    assert (by_admin.status_code, by_admin.json()["rule_id"]) == (403, "SG-SEC-1")
    shortcut = await api.call(
        "POST", "/v1/purposes/CASH/status", roles=OVERSIGHT, json={"status": "active", "reason": "Skip the review."}
    )
    refused(shortcut, "SG-HRIA-1", "status")
    other_assessment = await api.call(
        "POST",
        "/v1/purposes/CASH/approval",
        roles=OVERSIGHT,
        json={"dpia_ref": "DPIA-other", "hria_ref": "HRIA-2026-009"},
    )
    refused(other_assessment, "SG-HRIA-1", "dpia_ref")

    approved = await api.call(
        "POST",
        "/v1/purposes/CASH/approval",
        roles=OVERSIGHT,
        client_id="oversight-board",
        json={"dpia_ref": "DPIA-2026-014", "hria_ref": "HRIA-2026-009", "note": "Reviewed at the March board."},
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("active", "oversight-board")
    await api.granted("CASH")
    assert (await api.decide("CASH"))["decision"] == "permit"
    again = await api.call(
        "POST",
        "/v1/purposes/CASH/approval",
        roles=OVERSIGHT,
        json={"dpia_ref": "DPIA-2026-014", "hria_ref": "HRIA-2026-009"},
    )
    assert again.status_code == 409


@pytest.mark.rule("SG-NONDISC-1")
async def test_a_protected_attribute_needs_the_law_that_requires_it(api):
    body = purpose_body("CASH", allowed_items=["household_size", "religion"])
    refused(await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=body), "SG-NONDISC-1", "allowed_items")

    stray = purpose_body("CASH", legally_required=[{"item": "ethnicity", "legal_reference": "Act 1, s. 2"}])
    refused(await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=stray), "SG-NONDISC-1", "legally_required")

    justified = purpose_body(
        "REFUGEE_AID",
        allowed_items=["household_size", "residency_status"],
        legally_required=[{"item": "residency_status", "legal_reference": "Refugee Assistance Act 2021, s. 4"}],
    )
    created = await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=justified)
    assert created.status_code == 201, created.text
    assert created.json()["legally_required"][0]["item"] == "residency_status"


@pytest.mark.rule("SG-PURPOSE-1")
async def test_the_registry_is_readable_with_its_legal_basis_limits_and_statutes(api):
    statute = {"reference": "Social Protection Act 2024, s. 12", "title": "Eligibility checks", "requesters": ["rp-a"]}
    await api.purpose("CASH", statutes=[statute], ekyc_allowed=True)
    await api.purpose("HOUSING", approve=False)
    listed = await api.call("GET", "/v1/purposes", roles=("relying_party",))
    assert listed.status_code == 200
    by_code = {p["code"]: p for p in listed.json()["items"]}
    assert (by_code["CASH"]["status"], by_code["HOUSING"]["status"]) == ("active", "draft")
    cash = by_code["CASH"]
    assert (cash["legal_basis"], cash["dpv_purpose"]) == ("dpv:Consent", "dpv:PublicBenefit")
    assert (cash["max_validity_days"], cash["max_data_life_days"], cash["ekyc_allowed"]) == (90, 30, True)
    assert cash["statutes"] == [statute]
    assert cash["allowed_items"] == ["household_income_band", "household_size", "full_name"]


async def test_a_missing_translation_falls_back_visibly(api):
    await api.purpose("CASH")
    arabic = (await api.call("GET", "/v1/purposes/CASH", roles=("subject",), params={"language": "ar"})).json()
    assert arabic["notice"]["language"] == "en"
    assert (arabic["notice"]["requested_language"], arabic["notice"]["fell_back"]) == ("ar", True)
    assert sorted(arabic["missing_languages"]) == ["ar", "es", "ru", "zh"]

    french = await api.call(
        "GET", "/v1/purposes/CASH", roles=("subject",), headers={"Accept-Language": "fr-CA, en;q=0.5"}
    )
    assert french.json()["notice"] | {"description": None} == {
        "language": "fr", "requested_language": "fr", "fell_back": False, "title": "Éligibilité au transfert",
        "description": None,
    }  # fmt: skip
    german = await api.call("GET", "/v1/purposes/CASH", roles=("subject",), headers={"Accept-Language": "de, fr;q=0.8"})
    assert (german.json()["notice"]["language"], german.json()["notice"]["fell_back"]) == ("fr", True)


async def test_oversight_suspends_resumes_and_retires(api):
    await api.purpose("CASH")
    await api.granted("CASH")

    async def move(status: str) -> int:
        response = await api.call(
            "POST", "/v1/purposes/CASH/status", roles=OVERSIGHT, json={"status": status, "reason": "Board decision."}
        )
        return response.status_code

    assert await move("suspended") == 200
    assert (await api.decide("CASH"))["rule_id"] == "SG-PURPOSE-1"
    assert await move("active") == 200
    assert (await api.decide("CASH"))["decision"] == "permit"
    assert await move("retired") == 200
    assert await move("active") == 409, "retired is final"
    read = (await api.call("GET", "/v1/purposes/CASH", roles=("subject",))).json()
    assert (read["status"], read["version"]) == ("retired", 5)


async def test_registering_needs_the_admin_role_and_a_new_code(api):
    body = purpose_body("CASH")
    as_oversight = await api.call("POST", "/v1/purposes", roles=("auditor",), json=body)
    assert (as_oversight.status_code, as_oversight.json()["rule_id"]) == (403, "SG-SEC-1")
    assert (await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=body)).status_code == 201
    assert (await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=body)).status_code == 409


async def test_registering_with_an_idempotency_key_twice_registers_once(api):
    body = purpose_body("CASH")
    headers = {"Idempotency-Key": "register-cash"}
    first = await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=body, headers=headers)
    again = await api.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"

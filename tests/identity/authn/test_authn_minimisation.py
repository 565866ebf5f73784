"""Verification answers yes/no and boolean predicates, never attributes (SG-MIN-2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.identity.authn.schemas import AuthnResult, PredicateResult
from services.identity.persons.schemas import PERSONAL_FIELDS
from tests.identity.access_helpers import RELYING_PARTY, call, enrolled, request_otp

pytestmark = pytest.mark.rule("SG-MIN-2")

DEMOGRAPHIC = {*PERSONAL_FIELDS, "uin", "name", "birthdate", "dob", "age", "sub"}


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def _predicates(api, person, predicates, code):
    body = {
        "individual": {"type": "vid", "value": person.vid},
        "factor": {"type": "otp", "otp": code},
        "predicates": predicates,
    }
    return await call(api, "POST", "/v1/authn/predicates", roles=RELYING_PARTY, client_id="rp-bank", json=body)


def test_the_verification_schemas_have_no_demographic_field() -> None:
    for model in (AuthnResult, PredicateResult):
        assert not set(model.model_fields) & DEMOGRAPHIC, model.__name__
        assert model.model_config.get("extra") == "forbid"


async def test_the_openapi_document_promises_no_demographic_field(api) -> None:
    schemas = (await api.svc.client.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("AuthnResult", "PredicateResult"):
        assert not set(schemas[name]["properties"]) & DEMOGRAPHIC
    predicates = schemas["PredicateResult"]["properties"]["predicates"]
    assert predicates["additionalProperties"] == {"type": "boolean"}


async def test_a_yes_answer_carries_no_attribute(api) -> None:
    person = await enrolled(api)
    code = await request_otp(api, person)
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "otp", "otp": code}}
    response = await call(api, "POST", "/v1/authn", roles=RELYING_PARTY, client_id="rp-bank", json=body)
    assert response.status_code == 200
    assert set(response.json()) == {"authenticated", "factor", "transaction_id", "auth_time", "subject_token"}
    record = await api.person(person.person_id)
    text = json.dumps(response.json())
    for field in ("given_name", "family_name", "date_of_birth", "address", "phone", "email", "uin"):
        assert str(record[field]) not in text


async def test_predicates_are_booleans_computed_by_the_service_clock(api, clock) -> None:
    clock.set(datetime(2026, 1, 1, 12, tzinfo=UTC))
    person = await enrolled(api, date_of_birth="2008-01-02", residency_status="citizen")
    response = await _predicates(api, person, ["age_over_18", "resident"], await request_otp(api, person))
    assert response.status_code == 200, response.text
    assert response.json()["predicates"] == {"age_over_18": False, "resident": True}
    assert not _keys(response.json()) & DEMOGRAPHIC - {"resident"}

    clock.advance(timedelta(days=1))  # the eighteenth birthday
    response = await _predicates(api, person, ["age_over_18"], await request_otp(api, person))
    assert response.json()["predicates"] == {"age_over_18": True}


@pytest.mark.parametrize(("status", "resident"), [("resident", True), ("refugee", False), ("stateless", False)])
async def test_resident_means_citizen_or_resident(api, status, resident) -> None:
    person = await enrolled(api, residency_status=status, nationality=None)
    response = await _predicates(api, person, ["resident"], await request_otp(api, person))
    assert response.json()["predicates"] == {"resident": resident}


async def test_a_leap_day_birthday_counts_from_the_first_of_march(api, clock) -> None:
    clock.set(datetime(2026, 2, 28, 12, tzinfo=UTC))
    person = await enrolled(api, date_of_birth="2008-02-29")
    response = await _predicates(api, person, ["age_over_18"], await request_otp(api, person))
    assert response.json()["predicates"] == {"age_over_18": False}
    clock.advance(timedelta(days=1))
    response = await _predicates(api, person, ["age_over_18"], await request_otp(api, person))
    assert response.json()["predicates"] == {"age_over_18": True}


async def test_no_predicate_without_authentication(api) -> None:
    person = await enrolled(api)
    code = await request_otp(api, person)
    response = await _predicates(api, person, ["age_over_18"], f"{(int(code) + 1) % 1_000_000:06d}")
    assert response.status_code == 401
    assert "predicates" not in response.json()
    assert response.json()["authenticated"] is False


async def test_unknown_predicates_are_invalid(api) -> None:
    person = await enrolled(api)
    response = await _predicates(api, person, ["religion"], "123456")
    assert response.status_code == 422

"""Enrolment: one UIN per person, no citizenship or sex required, biometrics only with consent, registrar only."""

from __future__ import annotations

import itertools
import re

import pytest

from services.identity.persons.uin import is_valid_uin
from tests.identity.identity_helpers import another_person, events, synthetic_person, table_rows

SUB = re.compile(r"^sub_[a-z2-7]{26}$")


@pytest.mark.rule("SG-ID-1")
async def test_two_distinct_people_get_two_distinct_valid_uins(api, identity):
    first = await api.enrolled(synthetic_person())
    second = await api.enrolled(another_person())

    for result in (first, second):
        assert result["status"] == "active"
        assert is_valid_uin(result["uin"])
        assert SUB.match(result["sub"])
    assert first["uin"] != second["uin"]
    assert first["sub"] != second["sub"]
    enrolled = await events(identity, "identity.person.enrolled")
    assert [e["payload"] for e in enrolled] == [
        {"person_id": first["person_id"], "sub": first["sub"]},
        {"person_id": second["person_id"], "sub": second["sub"]},
    ]


async def test_uins_are_not_sequential(api):
    uins = [int((await api.enrolled())["uin"]) for _ in range(5)]
    assert all(abs(b - a) > 1000 for a, b in itertools.pairwise(uins))


@pytest.mark.rule("SG-ID-1")
async def test_a_uin_already_issued_is_never_issued_again(api, monkeypatch):
    from services.identity.persons import service

    first = await api.enrolled()
    fresh = service.generate_uin()
    draws = iter([first["uin"], first["uin"], fresh])
    monkeypatch.setattr(service, "generate_uin", lambda: next(draws))

    second = await api.enrolled()

    assert second["uin"] == fresh != first["uin"]


@pytest.mark.rule("SG-NONDISC-1")
@pytest.mark.rule("SG-GENDER-1")
async def test_stateless_person_without_nationality_or_sex_gets_a_uin(api):
    body = {"full_name": "Zahra", "date_of_birth": "2001-02-03", "residency_status": "stateless"}

    response = await api.enrol(body)

    assert response.status_code == 201, response.text
    assert is_valid_uin(response.json()["uin"])
    record = await api.person(response.json()["person_id"])
    assert record["residency_status"] == "stateless"
    assert record["nationality"] is None
    assert record["sex"] is None


@pytest.mark.rule("SG-NONDISC-1")
@pytest.mark.parametrize("status", ["citizen", "resident", "refugee", "stateless", "unknown"])
async def test_every_residency_status_is_enrolled(api, status):
    response = await api.enrol(another_person(residency_status=status, nationality=None))
    assert response.status_code == 201, response.text


async def test_names_in_any_script_round_trip(api):
    body = synthetic_person(given_name="Ọláolúwa", family_name="Ààrẹ", full_name="李小龍 محمد")
    result = await api.enrolled(body)

    record = await api.person(result["person_id"])

    assert (record["given_name"], record["family_name"], record["full_name"]) == ("Ọláolúwa", "Ààrẹ", "李小龍 محمد")
    assert record["uin"] == result["uin"]
    assert record["date_of_birth"] == "1984-07-23"
    assert record["phone"] == "+000 555 0101"


@pytest.mark.rule("SG-INCL-2")
async def test_without_biometric_consent_no_biometric_hash_is_stored(api, identity):
    body = synthetic_person(biometric_template="SYNTH-TEMPLATE-7f3a9", consents={"biometric": False})

    response = await api.enrol(body)

    assert response.status_code == 201, response.text
    assert response.json()["biometric_enrolled"] is False
    [row] = await table_rows(identity, "persons")
    assert row["biometric_hash"] is None
    assert row["consent_biometric"] is False


@pytest.mark.rule("SG-INCL-2")
async def test_with_biometric_consent_only_a_keyed_hash_is_stored(api, identity):
    body = synthetic_person(biometric_template="SYNTH-TEMPLATE-7f3a9", consents={"biometric": True})

    response = await api.enrol(body)

    assert response.json()["biometric_enrolled"] is True
    [row] = await table_rows(identity, "persons")
    assert re.fullmatch(r"[0-9a-f]{64}", row["biometric_hash"])
    assert "SYNTH-TEMPLATE" not in str(await table_rows(identity, "person_attributes"))


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize("roles", [("relying_party",), ("subject",), ("adjudicator",), ()])
async def test_only_a_registrar_enrols(api, identity, roles):
    response = await api.enrol(synthetic_person(), roles=roles)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule_id"] == "SG-SEC-1"
    assert await table_rows(identity, "persons") == []


@pytest.mark.rule("SG-SEC-1")
async def test_only_a_registrar_reads_a_person(api):
    result = await api.enrolled()
    response = await api.call("GET", f"/v1/persons/{result['person_id']}", roles=("relying_party",))
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


async def test_unknown_person_is_404(api):
    response = await api.call("GET", "/v1/persons/per_nobody", roles=("registrar",))
    assert response.status_code == 404
    assert response.json()["code"] == "identity.person_not_found"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"residency_status": "alien"}, "residency_status"),
        ({"sex": "unknown-value"}, "sex"),
        ({"nationality": "Narnia"}, "nationality"),
        ({"phone": "call me"}, "phone"),
        ({"unexpected": "field"}, "unexpected"),
    ],
)
async def test_bad_input_is_a_422_problem_naming_the_field(api, identity, change, field):
    response = await api.enrol(synthetic_person(**change))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert field in problem["detail"]
    assert any(field in issue["loc"] for issue in problem["errors"])
    assert await table_rows(identity, "persons") == []


async def test_a_person_needs_at_least_one_name(api):
    body = synthetic_person(given_name=None, family_name=None)
    response = await api.enrol(body)
    assert response.status_code == 422
    assert any("given_name" in issue["msg"] for issue in response.json()["errors"])


async def test_date_of_birth_in_the_future_is_refused(api, clock):
    response = await api.enrol(synthetic_person(date_of_birth=clock.now().date().replace(year=2030).isoformat()))

    assert response.status_code == 422
    assert response.json()["code"] == "identity.invalid_personal_data"
    assert response.json()["errors"][0]["loc"] == ["body", "date_of_birth"]


class TestIdempotencyKey:
    async def test_same_key_and_body_replays_the_same_enrolment(self, api, identity):
        headers = {"Idempotency-Key": "enrol-0001"}
        first = await api.enrol(synthetic_person(), headers=headers)
        again = await api.enrol(synthetic_person(), headers=headers)

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert len(await table_rows(identity, "persons")) == 1

    async def test_same_key_with_another_body_is_refused(self, api, identity):
        headers = {"Idempotency-Key": "enrol-0002"}
        await api.enrol(synthetic_person(), headers=headers)

        response = await api.enrol(another_person(), headers=headers)

        assert response.status_code == 422
        assert response.json()["code"] == "identity.idempotency_key_reused"
        assert len(await table_rows(identity, "persons")) == 1

    async def test_keys_are_per_client(self, api):
        headers = {"Idempotency-Key": "enrol-0003"}
        first = await api.enrol(another_person(), headers=headers, client_id="registry-office-a")
        second = await api.enrol(another_person(), headers=headers, client_id="registry-office-b")
        assert first.status_code == second.status_code == 201
        assert first.json()["person_id"] != second.json()["person_id"]

    async def test_a_held_enrolment_replays_its_409_and_case(self, api, identity):
        await api.enrolled(synthetic_person())
        headers = {"Idempotency-Key": "enrol-0004"}
        first = await api.enrol(synthetic_person(), headers=headers)
        again = await api.enrol(synthetic_person(), headers=headers)

        assert first.status_code == again.status_code == 409
        assert again.json()["adjudication_case_id"] == first.json()["adjudication_case_id"]
        assert len(await table_rows(identity, "adjudication_cases")) == 1

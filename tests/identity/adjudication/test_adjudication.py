"""SG-ID-1: a suspected duplicate is held with a case, never silently rejected; only an adjudicator resolves it."""

from __future__ import annotations

import asyncio

import pytest

from services.identity.persons.uin import is_valid_uin
from tests.identity.identity_helpers import another_person, events, synthetic_person, table_rows

pytestmark = pytest.mark.rule("SG-ID-1")


async def _held(api) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """Enrol the synthetic person, then the same person again: returns (first result, 409 problem)."""
    first = await api.enrolled(synthetic_person())
    response = await api.enrol(synthetic_person())
    assert response.status_code == 409, response.text
    return first, response.json()


async def test_same_person_twice_is_held_with_an_adjudication_case(api, identity):
    first, problem = await _held(api)

    assert problem["status"] == 409
    assert problem["code"] == "identity.duplicate_suspected"
    assert problem["rule_id"] == "SG-ID-1"
    assert problem["grievance"]["href"]
    assert "uin" not in problem
    case_id, held_id = problem["adjudication_case_id"], problem["person_id"]
    held = next(row for row in await table_rows(identity, "persons") if row["id"] == held_id)
    assert held["status"] == "pending_adjudication"
    assert held["uin_index"] is None
    assert [a["name"] for a in await table_rows(identity, "person_attributes") if a["person_id"] == held_id].count(
        "uin"
    ) == 0

    case = await api.call("GET", f"/v1/adjudication-cases/{case_id}", roles=("adjudicator",))
    assert case.status_code == 200, case.text
    assert case.json()["status"] == "open"
    assert case.json()["person_id"] == held_id
    assert case.json()["candidate_person_ids"] == [first["person_id"]]
    assert case.json()["match_signals"] == ["demographic"]
    [event] = await events(identity, "identity.enrolment.held")
    assert event["payload"] == {"person_id": held_id, "adjudication_case_id": case_id}


@pytest.mark.parametrize(
    "variant",
    [
        {"given_name": "AMARA", "family_name": "okafor"},
        {"given_name": None, "family_name": None, "full_name": "Amara  Okafor"},
        {"given_name": "Amara", "family_name": "Okafor.", "phone": "+000 555 9999", "email": None},
    ],
)
async def test_demographic_match_survives_case_spacing_and_punctuation(api, variant):
    await api.enrolled(synthetic_person())
    response = await api.enrol(synthetic_person(**variant))
    assert response.status_code == 409, response.text


async def test_biometric_match_with_other_demographics_is_held(api):
    template = "SYNTH-TEMPLATE-biometric-0042"
    await api.enrolled(synthetic_person(biometric_template=template, consents={"biometric": True}))

    response = await api.enrol(another_person(biometric_template=template, consents={"biometric": True}))

    assert response.status_code == 409
    case_id = response.json()["adjudication_case_id"]
    case = await api.call("GET", f"/v1/adjudication-cases/{case_id}", roles=("adjudicator",))
    assert case.json()["match_signals"] == ["biometric"]


async def test_biometric_without_consent_is_not_used_for_matching(api):
    template = "SYNTH-TEMPLATE-biometric-0043"
    await api.enrolled(synthetic_person(biometric_template=template, consents={"biometric": True}))
    response = await api.enrol(another_person(biometric_template=template, consents={"biometric": False}))
    assert response.status_code == 201


async def test_distinct_decision_issues_the_uin(api, identity):
    first, problem = await _held(api)

    response = await api.decide_case(problem["adjudication_case_id"], "distinct")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "decided"
    assert response.json()["decision"] == "distinct"
    assert response.json()["person_status"] == "active"
    assert "uin" not in response.json()
    record = await api.person(problem["person_id"])
    assert record["status"] == "active"
    assert is_valid_uin(record["uin"])
    assert record["uin"] != first["uin"]
    [decided] = await events(identity, "identity.adjudication.decided")
    assert decided["payload"] == {
        "adjudication_case_id": problem["adjudication_case_id"],
        "person_id": problem["person_id"],
        "decision": "distinct",
    }
    assert [e["payload"]["person_id"] for e in await events(identity, "identity.person.enrolled")] == [
        first["person_id"],
        problem["person_id"],
    ]


async def test_duplicate_decision_refuses_and_links_to_the_existing_person(api, identity):
    first, problem = await _held(api)

    response = await api.decide_case(problem["adjudication_case_id"], "duplicate")

    assert response.status_code == 200, response.text
    assert response.json()["person_status"] == "refused_duplicate"
    record = await api.person(problem["person_id"])
    assert record["status"] == "refused_duplicate"
    assert record["uin"] is None
    assert record["duplicate_of"] == first["person_id"]
    assert len(await events(identity, "identity.person.enrolled")) == 1


async def test_a_refused_duplicate_is_not_matched_again_but_the_original_is(api):
    _, problem = await _held(api)
    await api.decide_case(problem["adjudication_case_id"], "duplicate")

    response = await api.enrol(synthetic_person())

    assert response.status_code == 409
    case = await api.call(
        "GET", f"/v1/adjudication-cases/{response.json()['adjudication_case_id']}", roles=("adjudicator",)
    )
    assert problem["person_id"] not in case.json()["candidate_person_ids"]


async def test_a_case_is_decided_once(api):
    _, problem = await _held(api)
    await api.decide_case(problem["adjudication_case_id"], "distinct")

    response = await api.decide_case(problem["adjudication_case_id"], "duplicate")

    assert response.status_code == 409
    assert response.json()["code"] == "identity.adjudication_case_decided"


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize("roles", [("registrar",), ("relying_party",), ("subject",)])
async def test_only_an_adjudicator_decides(api, identity, roles):
    _, problem = await _held(api)

    response = await api.decide_case(problem["adjudication_case_id"], "distinct", roles=roles)

    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"
    held = next(row for row in await table_rows(identity, "persons") if row["id"] == problem["person_id"])
    assert held["status"] == "pending_adjudication"


async def test_the_registrar_follows_the_case_but_a_relying_party_cannot(api):
    _, problem = await _held(api)
    path = f"/v1/adjudication-cases/{problem['adjudication_case_id']}"
    assert (await api.call("GET", path, roles=("registrar",))).status_code == 200
    denied = await api.call("GET", path, roles=("relying_party",))
    assert denied.status_code == 403 and denied.json()["rule_id"] == "SG-SEC-1"


async def test_unknown_case_is_404(api):
    response = await api.call("GET", "/v1/adjudication-cases/adj_none", roles=("adjudicator",))
    assert response.status_code == 404
    assert response.json()["code"] == "identity.adjudication_case_not_found"


async def test_bad_decision_is_422(api):
    _, problem = await _held(api)
    response = await api.decide_case(problem["adjudication_case_id"], "merge")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "decision"]


async def test_concurrent_enrolments_of_one_person_give_one_uin(api, identity):
    responses = await asyncio.gather(*(api.enrol(synthetic_person()) for _ in range(3)))

    assert sorted(r.status_code for r in responses) == [201, 409, 409]
    statuses = sorted(row["status"] for row in await table_rows(identity, "persons"))
    assert statuses == ["active", "pending_adjudication", "pending_adjudication"]


async def test_concurrent_retries_with_one_idempotency_key_enrol_once(api, identity):
    headers = {"Idempotency-Key": "enrol-concurrent"}
    responses = await asyncio.gather(*(api.enrol(synthetic_person(), headers=headers) for _ in range(2)))

    # Serialised (SQLite) the second replays the first; interleaved (PostgreSQL) it is told to retry.
    assert sorted(r.status_code for r in responses) in ([201, 201], [201, 409])
    assert {r.json().get("code") for r in responses if r.status_code == 409} <= {"identity.idempotency_in_progress"}
    assert len(await table_rows(identity, "persons")) == 1
    replay = await api.enrol(synthetic_person(), headers=headers)
    assert replay.json()["person_id"] == next(r for r in responses if r.status_code == 201).json()["person_id"]


async def test_the_queue_lists_open_cases_oldest_first_in_pages(api):
    held = []
    for _ in range(3):
        body = another_person()
        await api.enrolled(body)
        again = await api.enrol(body)
        assert again.status_code == 409, again.text
        held.append(again.json()["adjudication_case_id"])
    assert (await api.decide_case(held[0], "distinct")).status_code == 200

    everything = await api.call("GET", "/v1/adjudication-cases", roles=("adjudicator",))
    assert [c["id"] for c in everything.json()["items"]] == held
    first = await api.call("GET", "/v1/adjudication-cases?status=open&limit=1", roles=("adjudicator",))
    assert [c["id"] for c in first.json()["items"]] == [held[1]]
    cursor = first.json()["next_cursor"]
    second = await api.call(
        "GET", f"/v1/adjudication-cases?status=open&limit=1&cursor={cursor}", roles=("adjudicator",)
    )
    assert [c["id"] for c in second.json()["items"]] == [held[2]]
    assert second.json()["next_cursor"] is None
    assert second.json()["items"][0]["person_status"] == "pending_adjudication"

    registrar = await api.call("GET", "/v1/adjudication-cases", roles=("registrar",))
    assert registrar.status_code == 403 and registrar.json()["rule_id"] == "SG-SEC-1"

"""SG-GRIEV-3: a subject's correction is a tracked case with an SLA; approval changes the record, not the tokens."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.identity.identity_helpers import REGISTRAR, IdentityApi, events, synthetic_person

pytestmark = pytest.mark.rule("SG-GRIEV-3")


async def _request(api, sub: str, field: str, value, reason: str = "Misspelt at enrolment.") -> dict:  # type: ignore[no-untyped-def]
    response = await api.as_subject(
        sub, "POST", "/v1/me/corrections", {"field": field, "value": value, "reason": reason}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _decide(api, case_id: str, decision: str):  # type: ignore[no-untyped-def]
    return await api.call("POST", f"/v1/corrections/{case_id}/decision", roles=REGISTRAR, json={"decision": decision})


async def test_an_approved_correction_changes_the_record_and_keeps_the_tokens(api, identity, clock):
    person = await api.enrolled(synthetic_person())
    token_before = await api.pairwise_token(person["sub"], "rp-bank-1")
    vid = (await api.as_subject(person["sub"], "POST", "/v1/me/vids", {})).json()

    case = await _request(api, person["sub"], "family_name", "Okafor-Nwosu")
    assert case["status"] == "open"
    assert case["due_at"].startswith("2026-01-31")  # 30 days after the frozen clock's start
    decided = await _decide(api, case["id"], "approve")

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    record = await api.person(person["person_id"])
    assert record["family_name"] == "Okafor-Nwosu"
    assert record["uin"] == person["uin"]
    assert await api.pairwise_token(person["sub"], "rp-bank-1") == token_before
    assert (await api.resolve("vid", vid["vid"])).json()["sub"] == person["sub"]
    [updated] = await events(identity, "identity.person.updated")
    assert updated["payload"] == {
        "person_id": person["person_id"],
        "sub": person["sub"],
        "correction_id": case["id"],
        "changed_fields": ["family_name"],
    }
    outbox_text = json.dumps([e["payload"] for e in await events(identity)])
    assert "Okafor" not in outbox_text and "Amara" not in outbox_text


async def test_a_corrected_name_is_what_deduplication_compares(api):
    person = await api.enrolled(synthetic_person())
    case = await _request(api, person["sub"], "family_name", "Okafor-Nwosu")
    await _decide(api, case["id"], "approve")

    assert (await api.enrol(synthetic_person())).status_code == 201  # the old name no longer matches anyone
    assert (await api.enrol(synthetic_person(family_name="Okafor-Nwosu"))).status_code == 409


async def test_a_rejected_correction_leaves_the_record(api, identity):
    person = await api.enrolled(synthetic_person())
    case = await _request(api, person["sub"], "date_of_birth", "1984-07-24")

    decided = await _decide(api, case["id"], "reject")

    assert decided.json()["status"] == "rejected"
    assert (await api.person(person["person_id"]))["date_of_birth"] == "1984-07-23"
    assert await events(identity, "identity.person.updated") == []
    [event] = await events(identity, "identity.correction.decided")
    assert event["payload"]["decision"] == "rejected"


async def test_clearing_an_optional_field(api):
    person = await api.enrolled(synthetic_person())
    case = await _request(api, person["sub"], "sex", None, reason="I prefer not to record it.")
    await _decide(api, case["id"], "approve")
    assert (await api.person(person["person_id"]))["sex"] is None


async def test_a_case_is_decided_once(api):
    person = await api.enrolled()
    case = await _request(api, person["sub"], "address", "3 New Road")
    await _decide(api, case["id"], "approve")
    again = await _decide(api, case["id"], "reject")
    assert again.status_code == 409
    assert again.json()["code"] == "identity.correction_decided"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_of_birth", "not-a-date"),
        ("date_of_birth", None),
        ("sex", "robot"),
        ("residency_status", "alien"),
        ("phone", "call me"),
        ("date_of_birth", "2031-01-01"),
    ],
)
async def test_an_invalid_value_is_a_422_naming_the_value(api, field, value):
    person = await api.enrolled()
    response = await api.as_subject(
        person["sub"], "POST", "/v1/me/corrections", {"field": field, "value": value, "reason": "typo"}
    )
    assert response.status_code == 422, response.text
    assert any(issue["loc"][-1] == "value" for issue in response.json()["errors"])


async def test_the_last_name_cannot_be_cleared(api):
    person = await api.enrolled({"full_name": "Zahra", "date_of_birth": "2001-02-03"})
    response = await api.as_subject(
        person["sub"], "POST", "/v1/me/corrections", {"field": "full_name", "value": None, "reason": "remove"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "identity.invalid_personal_data"


async def test_an_unknown_field_is_refused(api):
    person = await api.enrolled()
    response = await api.as_subject(
        person["sub"], "POST", "/v1/me/corrections", {"field": "uin", "value": "1", "reason": "x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "field"]


async def test_a_subject_sees_their_own_cases(api):
    alice, bob = await api.enrolled(), await api.enrolled()
    mine = await _request(api, alice["sub"], "address", "3 New Road")
    await _request(api, bob["sub"], "address", "4 Old Road")

    response = await api.as_subject(alice["sub"], "GET", "/v1/me/corrections")

    page = response.json()
    assert [case["id"] for case in page["items"]] == [mine["id"]] and page["next_cursor"] is None
    assert page["items"][0]["value"] == "3 New Road"
    assert "person_id" not in page["items"][0]


async def test_a_subjects_cases_come_in_pages_oldest_first(api):
    alice = await api.enrolled()
    asked = [(await _request(api, alice["sub"], "address", f"{n} New Road"))["id"] for n in range(3)]

    first = (await api.as_subject(alice["sub"], "GET", "/v1/me/corrections?limit=2")).json()
    rest = (
        await api.as_subject(alice["sub"], "GET", f"/v1/me/corrections?limit=2&cursor={first['next_cursor']}")
    ).json()

    assert [c["id"] for c in first["items"]] == asked[:2] and first["next_cursor"]
    assert [c["id"] for c in rest["items"]] == asked[2:] and rest["next_cursor"] is None


class TestOverdue:
    async def test_an_undecided_case_is_overdue_after_the_sla_and_escalates(self, api, identity, clock):
        person = await api.enrolled()
        case = await _request(api, person["sub"], "address", "3 New Road")

        clock.advance(days=29)
        assert (await api.call("GET", "/v1/corrections", roles=REGISTRAR, params={"overdue": "true"})).json()[
            "items"
        ] == []

        clock.advance(days=1, seconds=1)
        overdue = await api.call("GET", "/v1/corrections", roles=REGISTRAR, params={"overdue": "true"})
        assert [(c["id"], c["overdue"]) for c in overdue.json()["items"]] == [(case["id"], True)]

        escalated = await api.call("POST", "/v1/corrections/escalate-overdue", roles=("oversight",))
        assert escalated.status_code == 200, escalated.text
        assert escalated.json() == {"escalated": [case["id"]]}
        read = await api.call("GET", f"/v1/corrections/{case['id']}", roles=REGISTRAR)
        assert read.json()["status"] == "escalated"
        assert read.json()["escalated_at"] is not None
        [event] = await events(identity, "identity.correction.escalated")
        assert event["payload"]["correction_id"] == case["id"]

        again = await api.call("POST", "/v1/corrections/escalate-overdue", roles=REGISTRAR)
        assert again.json() == {"escalated": []}

    async def test_an_escalated_case_can_still_be_decided(self, api, clock):
        person = await api.enrolled()
        case = await _request(api, person["sub"], "address", "3 New Road")
        clock.advance(days=31)
        await api.call("POST", "/v1/corrections/escalate-overdue", roles=REGISTRAR)

        decided = await _decide(api, case["id"], "approve")

        assert decided.json()["status"] == "approved"
        assert decided.json()["overdue"] is False
        assert (await api.person(person["person_id"]))["address"] == "3 New Road"

    async def test_a_decided_case_is_never_overdue(self, api, clock):
        person = await api.enrolled()
        case = await _request(api, person["sub"], "address", "3 New Road")
        await _decide(api, case["id"], "reject")
        clock.advance(days=60)
        response = await api.call("GET", "/v1/corrections", roles=REGISTRAR, params={"overdue": "true"})
        assert response.json()["items"] == []
        assert (await api.call("POST", "/v1/corrections/escalate-overdue", roles=REGISTRAR)).json()["escalated"] == []


async def test_the_sla_is_configurable(service_factory, gateway):
    from tests.identity.identity_helpers import IdentityApi

    api = IdentityApi(await service_factory("identity", correction_sla_days=5), gateway)
    person = await api.enrolled()
    case = await _request(api, person["sub"], "address", "3 New Road")
    assert case["due_at"].startswith("2026-01-06")


async def test_cases_page_by_cursor(api):
    person = await api.enrolled()
    ids = [(await _request(api, person["sub"], "address", f"{n} New Road"))["id"] for n in range(3)]

    first = (await api.call("GET", "/v1/corrections", roles=REGISTRAR, params={"limit": 2})).json()
    second = (
        await api.call("GET", "/v1/corrections", roles=REGISTRAR, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()

    assert [c["id"] for c in first["items"]] == ids[:2]
    assert [c["id"] for c in second["items"]] == ids[2:]
    assert second["next_cursor"] is None


@pytest.mark.rule("SG-SEC-1")
async def test_only_a_registrar_decides_and_lists(api):
    person = await api.enrolled()
    case = await _request(api, person["sub"], "address", "3 New Road")
    decide = await api.call(
        "POST", f"/v1/corrections/{case['id']}/decision", roles=("subject",), subject_ref=person["sub"],
        json={"decision": "approve"},
    )  # fmt: skip
    listing = await api.call("GET", "/v1/corrections", roles=("relying_party",))
    escalate = await api.call("POST", "/v1/corrections/escalate-overdue", roles=("subject",))
    assert decide.status_code == listing.status_code == escalate.status_code == 403
    assert {r.json()["rule_id"] for r in (decide, listing, escalate)} == {"SG-SEC-1"}


async def test_overdue_cases_escalate_on_the_timer_without_anyone_calling(service_factory, gateway, clock):
    """SG-GRIEV-3: escalation does not wait for an oversight officer to remember the endpoint."""
    identity = await service_factory("identity", correction_escalation_interval_seconds=0.05)
    api = IdentityApi(identity, gateway)
    person = await api.enrolled()
    case = await _request(api, person["sub"], "address", "3 New Road")

    clock.advance(days=30, seconds=1)
    status = None
    for _ in range(100):  # the timer fires every 50 ms; give it up to 5 s on a slow machine
        await asyncio.sleep(0.05)
        read = await api.call("GET", f"/v1/corrections/{case['id']}", roles=REGISTRAR)
        status = read.json()["status"]
        if status == "escalated":
            break
    assert status == "escalated"
    schedule = identity.app.state.correction_escalation
    assert await schedule.run_once() == [] and await schedule.run_once() == []  # more runs: nothing to do again
    [event] = await events(identity, "identity.correction.escalated")  # escalated and announced once
    assert event["payload"]["correction_id"] == case["id"]


@pytest.mark.rule("SG-ID-1")
async def test_a_correction_that_would_make_a_duplicate_needs_the_registrars_confirmation(api, identity):
    """Correcting Amara Okafor-Nwosu's name to Amara Okafor (same birth date as an enrolled Amara Okafor) would
    quietly make two records of one person: approval is refused until the registrar confirms they are two people."""
    first = await api.enrolled(synthetic_person())
    second = await api.enrolled(synthetic_person(family_name="Okafor-Nwosu", phone="+000 555 0102"))
    case = await _request(api, second["sub"], "family_name", "Okafor")

    refused = await _decide(api, case["id"], "approve")
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule_id"] == "SG-ID-1"
    assert refused.json()["code"] == "identity.correction_matches_person"
    assert refused.json()["matching_person_ids"] == [first["person_id"]]
    assert (await api.person(second["person_id"]))["family_name"] == "Okafor-Nwosu"  # nothing was written
    read = await api.call("GET", f"/v1/corrections/{case['id']}", roles=REGISTRAR)
    assert read.json()["status"] == "open"

    confirmed = await api.call(
        "POST", f"/v1/corrections/{case['id']}/decision", roles=REGISTRAR,
        json={"decision": "approve", "confirmed_distinct": True},
    )  # fmt: skip
    assert confirmed.status_code == 200, confirmed.text
    assert (await api.person(second["person_id"]))["family_name"] == "Okafor"
    [decided] = await events(identity, "identity.correction.decided")
    assert decided["payload"]["confirmed_distinct_from"] == [first["person_id"]]

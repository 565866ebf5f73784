"""SG-INCL-1: a person without a foundational ID gets 202 and an exception case an officer verifies, never 401/403."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.identity.identity_helpers import REGISTRAR, IdentityApi, events, table_rows

RP = "rp-clinic-1"
OTHER_RP = "rp-bank-2"
OPERATOR = "field-console-1"
EVIDENCE = {
    "purpose": "PRIMARY_HEALTH_CARE",
    "evidence_type": "alternative_document",
    "evidence_reference": "BC-2019-004411",
    "claimed_name": "Nia Adjei-Boateng",
    "claimed_date_of_birth": "1991-03-14",
    "contact": "+000 555 7788",
}
SECRETS = ("BC-2019-004411", "Adjei-Boateng", "1991-03-14", "555 7788", "5557788")


async def _call(
    api: IdentityApi,
    method: str,
    path: str,
    *,
    client_id: str = RP,
    roles: tuple[str, ...] = ("relying_party",),
    channel: str = "web",
    assisted_by: str | None = None,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """As the gateway would call identity, with the channel and assisting operator the assertion carries."""
    assertion = api.gateway.headers(
        "identity", client_id=client_id, roles=roles, channel=channel, assisted_by=assisted_by
    )
    response: httpx.Response = await api.svc.client.request(
        method, path, json=json, params=params, headers={**assertion, **(headers or {})}
    )
    return response


async def _open(api: IdentityApi, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    response = await _call(api, "POST", "/v1/identity-exceptions", json=body or EVIDENCE, **kwargs)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


async def _decide(api: IdentityApi, case_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.call("POST", f"/v1/identity-exceptions/{case_id}/decision", roles=REGISTRAR, json=body)


async def _queue(api: IdentityApi, **params: Any) -> dict[str, Any]:
    response = await api.call("GET", "/v1/identity-exceptions", roles=REGISTRAR, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.rule("SG-INCL-1")
@pytest.mark.parametrize(
    "evidence_type", ["alternative_document", "community_attestation", "assisted_attestation", "other"]
)
async def test_no_uin_with_alternative_evidence_is_202_and_a_case(api, evidence_type):
    body = {"purpose": "SOCIAL_CASH_TRANSFER", "evidence_type": evidence_type, "evidence_reference": "VILLAGE-7"}

    response = await _call(api, "POST", "/v1/identity-exceptions", json=body)

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["case_id"].startswith("iex_")
    assert accepted["status"] == "pending"
    assert accepted["sla_due_at"].startswith("2026-01-06")  # 5 days after the frozen clock's start
    assert accepted["status_href"] == f"/v1/identity-exceptions/{accepted['case_id']}"
    assert response.headers["location"] == accepted["status_href"]
    assert accepted["grievance"]["href"] and accepted["grievance"]["authority"]


@pytest.mark.rule("SG-INCL-1")
async def test_the_evidence_is_never_in_clear_in_the_database_nor_in_any_answer(api, identity):
    accepted = await _open(api)
    read = await _call(api, "GET", accepted["status_href"])
    queue = await _queue(api)

    [row] = await table_rows(identity, "identity_exception_cases")
    raw = repr(row).encode() + b"".join(v for v in row.values() if isinstance(v, bytes))
    shown = json.dumps([accepted, read.json(), queue]) + json.dumps([e["payload"] for e in await events(identity)])
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
        assert secret not in shown, secret
    assert row["evidence_key_id"] and row["claimed_name_key_id"] and row["claimed_dob_key_id"] and row["contact_key_id"]
    assert read.json()["evidence_type"] == "alternative_document"


@pytest.mark.rule("SG-INCL-1")
async def test_a_verified_linked_case_shows_the_requester_only_its_pairwise_token(api, identity):
    person = await api.enrolled()
    case_id = (await _open(api))["case_id"]

    decided = await _decide(
        api, case_id, {"decision": "verified", "reason": "Card checked in person.", "person_id": person["person_id"]}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "verified"
    assert decided.json()["person_id"] == person["person_id"]
    assert decided.json()["person_token"] is None  # the registrar's answer carries no relying party's token

    read = await _call(api, "GET", f"/v1/identity-exceptions/{case_id}")
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["status"] == "verified"
    assert body["outcome"] == {
        "decision": "verified",
        "reason": "Card checked in person.",
        "decided_at": "2026-01-01T00:00:00Z",
        "linked": True,
    }
    assert body["person_token"] == await api.pairwise_token(person["sub"], RP)
    assert body["person_token"] != await api.pairwise_token(person["sub"], OTHER_RP)
    assert body["person_id"] is None
    for identifier in (person["uin"], person["sub"], person["person_id"]):
        assert identifier not in read.text
    [event] = await events(identity, "identity.exception.decided")
    assert event["payload"] == {"case_id": case_id, "decision": "verified", "person_id": person["person_id"]}
    # The person whose record was used is told who used it (SG-NOTIFY-1).
    [notice] = [m for m in await table_rows(identity, "notification_outbox") if m["person_id"] == person["person_id"]]
    assert notice["kind"] == "access_notice"


@pytest.mark.rule("SG-INCL-1")
async def test_a_verified_case_need_not_link_anyone(api, identity):
    case_id = (await _open(api))["case_id"]

    decided = await _decide(api, case_id, {"decision": "verified", "reason": "Chief's attestation accepted."})

    assert decided.json()["status"] == "verified"
    read = (await _call(api, "GET", f"/v1/identity-exceptions/{case_id}")).json()
    assert read["outcome"]["linked"] is False
    assert read["person_token"] is None
    assert await table_rows(identity, "notification_outbox") == []


@pytest.mark.rule("SG-INCL-1")
async def test_a_rejected_case_says_why_and_is_decided_once(api, identity):
    case_id = (await _open(api))["case_id"]

    decided = await _decide(api, case_id, {"decision": "rejected", "reason": "The document had expired."})

    assert decided.status_code == 200, decided.text
    read = (await _call(api, "GET", f"/v1/identity-exceptions/{case_id}")).json()
    assert read["status"] == "rejected"
    assert read["outcome"]["reason"] == "The document had expired."
    assert read["person_token"] is None
    [event] = await events(identity, "identity.exception.decided")
    assert event["payload"] == {"case_id": case_id, "decision": "rejected", "person_id": None}
    again = await _decide(api, case_id, {"decision": "verified", "reason": "Second look."})
    assert again.status_code == 409
    assert again.json()["code"] == "identity.exception_case_decided"


async def test_linking_needs_an_enrolled_person_and_a_verification(api):
    person = await api.enrolled()
    case_id = (await _open(api))["case_id"]

    unknown = await _decide(api, case_id, {"decision": "verified", "reason": "x", "person_id": "per_nobody"})
    rejected_with_link = await _decide(
        api, case_id, {"decision": "rejected", "reason": "x", "person_id": person["person_id"]}
    )

    assert unknown.status_code == rejected_with_link.status_code == 422
    assert unknown.json()["code"] == "identity.invalid_personal_data"
    assert (await _call(api, "GET", f"/v1/identity-exceptions/{case_id}")).json()["status"] == "pending"


@pytest.mark.rule("SG-INCL-3")
async def test_an_assisted_request_must_name_the_operator(api, identity):
    denied = await _call(
        api, "POST", "/v1/identity-exceptions", client_id=OPERATOR, roles=("assisted_operator",), channel="assisted",
        json=EVIDENCE,
    )  # fmt: skip
    assert denied.status_code == 403
    assert denied.json()["rule_id"] == "SG-INCL-3"
    assert denied.json()["grievance"]["href"]
    assert await table_rows(identity, "identity_exception_cases") == []

    accepted = await _open(
        api, client_id=OPERATOR, roles=("assisted_operator",), channel="assisted", assisted_by="op-amina"
    )
    read = (await _call(api, "GET", accepted["status_href"], client_id=OPERATOR, roles=("assisted_operator",))).json()
    assert (read["channel"], read["assisted_by"], read["requested_by"]) == ("assisted", "op-amina", OPERATOR)


@pytest.mark.rule("SG-SEC-1")
async def test_only_the_requester_or_a_registrar_reads_a_case(api):
    """403, not 404: DESIGN §5 never hides a denial as 404. The case id is random and the denial names nobody, so
    answering 403 reveals no more than that a case with that id exists."""
    case_id = (await _open(api))["case_id"]

    other = await _call(api, "GET", f"/v1/identity-exceptions/{case_id}", client_id=OTHER_RP)
    registrar = await api.call("GET", f"/v1/identity-exceptions/{case_id}", roles=REGISTRAR)
    missing = await _call(api, "GET", "/v1/identity-exceptions/iex_missing")

    assert other.status_code == 403
    assert other.json()["rule_id"] == "SG-SEC-1"
    assert "PRIMARY_HEALTH_CARE" not in other.text
    assert registrar.status_code == 200
    assert missing.status_code == 404
    assert missing.json()["code"] == "identity.exception_case_not_found"


@pytest.mark.rule("SG-SEC-1")
async def test_roles(api):
    case_id = (await _open(api))["case_id"]
    subject = await _call(api, "POST", "/v1/identity-exceptions", roles=("subject",), json=EVIDENCE)
    decide = await _call(
        api, "POST", f"/v1/identity-exceptions/{case_id}/decision", json={"decision": "verified", "reason": "x"}
    )
    listing = await _call(api, "GET", "/v1/identity-exceptions")
    assert subject.status_code == decide.status_code == listing.status_code == 403
    assert {r.json()["rule_id"] for r in (subject, decide, listing)} == {"SG-SEC-1"}


@pytest.mark.rule("SG-INCL-1")
async def test_outbox_events_carry_ids_only(api, identity):
    with_contact = (await _open(api))["case_id"]
    without_contact = (await _open(api, {k: v for k, v in EVIDENCE.items() if k != "contact"}))["case_id"]
    await _decide(api, with_contact, {"decision": "verified", "reason": "ok"})

    opened = await events(identity, "identity.exception.opened")
    assert [e["payload"] for e in opened] == [
        {"case_id": with_contact, "requested_by": RP, "assisted_by": None},
        {"case_id": without_contact, "requested_by": RP, "assisted_by": None},
    ]
    notices = [e["payload"] for e in await events(identity, "identity.exception.notice_requested")]
    assert notices == [{"case_id": with_contact, "stage": "opened"}, {"case_id": with_contact, "stage": "decided"}]


@pytest.mark.rule("SG-INCL-1")
async def test_the_overdue_queue_follows_the_clock(api, clock):
    first = (await _open(api))["case_id"]
    decided = (await _open(api))["case_id"]
    await _decide(api, decided, {"decision": "rejected", "reason": "no"})

    clock.advance(days=5)
    assert (await _queue(api, status="pending", overdue="true"))["items"] == []

    clock.advance(seconds=1)
    late = await _open(api)  # opened now: not overdue yet
    queue = await _queue(api, status="pending", overdue="true")
    assert [(c["id"], c["overdue"]) for c in queue["items"]] == [(first, True)]
    pending = await _queue(api, status="pending")
    assert [c["id"] for c in pending["items"]] == [first, late["case_id"]]


async def test_the_queue_pages_by_cursor(api):
    ids = [(await _open(api))["case_id"] for _ in range(3)]
    first = await _queue(api, limit=2)
    second = await _queue(api, limit=2, cursor=first["next_cursor"])
    assert [c["id"] for c in first["items"]] == ids[:2]
    assert [c["id"] for c in second["items"]] == ids[2:]
    assert second["next_cursor"] is None


async def test_the_sla_is_configurable(service_factory, gateway):
    api = IdentityApi(await service_factory("identity", identity_exception_sla_days=2), gateway)
    assert (await _open(api))["sla_due_at"].startswith("2026-01-03")


async def test_an_idempotency_key_replays_the_case(api, identity):
    key = {"Idempotency-Key": "visit-42"}
    first = await _open(api, headers=key)
    again = await _open(api, headers=key)
    other = await _call(
        api, "POST", "/v1/identity-exceptions", json={**EVIDENCE, "evidence_reference": "X"}, headers=key
    )

    assert again == first
    assert other.status_code == 422
    assert other.json()["code"] == "identity.idempotency_key_reused"
    assert len(await table_rows(identity, "identity_exception_cases")) == 1
    assert len(await events(identity, "identity.exception.opened")) == 1


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"evidence_type": "passport_photo"}, ["body", "evidence_type"]),
        ({"evidence_reference": "  "}, ["body", "evidence_reference"]),
        ({"purpose": "free text purpose"}, ["body", "purpose"]),
        ({"claimed_date_of_birth": "14/03/1991"}, ["body", "claimed_date_of_birth"]),
        ({"claimed_date_of_birth": "2030-01-01"}, ["body", "claimed_date_of_birth"]),
        ({"uin": "123456789012"}, ["body", "uin"]),
    ],
)
async def test_bad_input_is_a_422_problem(api, identity, change, loc):
    response = await _call(api, "POST", "/v1/identity-exceptions", json={**EVIDENCE, **change})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert loc in [issue["loc"] for issue in response.json()["errors"]]
    assert response.json()["grievance"]["href"]
    assert await table_rows(identity, "identity_exception_cases") == []

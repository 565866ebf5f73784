"""SG-TOKEN-1: a subject hands out revocable VIDs instead of the UIN; a revoked or expired VID resolves no more."""

from __future__ import annotations

import asyncio

import pytest

from services.identity.persons.uin import generate_vid, is_valid_vid
from tests.identity.identity_helpers import another_person, events, table_rows

pytestmark = pytest.mark.rule("SG-TOKEN-1")


async def _new_vid(api, sub: str, **body) -> dict:  # type: ignore[no-untyped-def]
    response = await api.as_subject(sub, "POST", "/v1/me/vids", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_vid_resolves_to_the_same_sub_until_revoked(api, identity):
    person = await api.enrolled()
    vid = await _new_vid(api, person["sub"])
    assert is_valid_vid(vid["vid"])
    assert vid["status"] == "active"

    for _ in range(2):
        resolved = await api.resolve("vid", vid["vid"])
        assert resolved.status_code == 200, resolved.text
        assert resolved.json() == {"sub": person["sub"], "reference_type": "vid"}

    revoked = await api.as_subject(person["sub"], "DELETE", f"/v1/me/vids/{vid['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"

    after = await api.resolve("vid", vid["vid"])
    assert after.status_code == 401
    assert after.json()["code"] == "identity.vid_revoked"
    assert after.json()["rule_id"] == "SG-TOKEN-1"
    [event] = await events(identity, "identity.vid.revoked")
    assert event["payload"] == {"vid_id": vid["id"], "person_id": person["person_id"]}


async def test_revoking_twice_is_harmless(api, identity):
    person = await api.enrolled()
    vid = await _new_vid(api, person["sub"])
    for _ in range(2):
        response = await api.as_subject(person["sub"], "DELETE", f"/v1/me/vids/{vid['id']}")
        assert response.status_code == 200
    assert len(await events(identity, "identity.vid.revoked")) == 1


async def test_a_vid_expires_by_the_clock(api, clock):
    person = await api.enrolled()
    vid = await _new_vid(api, person["sub"], valid_for_days=1)
    assert (await api.resolve("vid", vid["vid"])).status_code == 200

    clock.advance(days=1, seconds=1)

    after = await api.resolve("vid", vid["vid"])
    assert after.status_code == 401
    assert after.json()["code"] == "identity.vid_expired"
    [listed] = (await api.as_subject(person["sub"], "GET", "/v1/me/vids")).json()
    assert listed["status"] == "expired"


async def test_a_subject_lists_only_their_own_vids(api):
    alice, bob = await api.enrolled(), await api.enrolled()
    mine = [await _new_vid(api, alice["sub"]) for _ in range(2)]
    await _new_vid(api, bob["sub"])

    response = await api.as_subject(alice["sub"], "GET", "/v1/me/vids")

    assert response.status_code == 200
    assert [v["id"] for v in response.json()] == [v["id"] for v in mine]
    assert [v["vid"] for v in response.json()] == [v["vid"] for v in mine]


async def test_a_subject_cannot_revoke_someone_elses_vid(api):
    alice, bob = await api.enrolled(), await api.enrolled()
    vid = await _new_vid(api, alice["sub"])

    response = await api.as_subject(bob["sub"], "DELETE", f"/v1/me/vids/{vid['id']}")

    assert response.status_code == 404
    assert response.json()["code"] == "identity.vid_not_found"
    assert (await api.resolve("vid", vid["vid"])).status_code == 200


async def test_active_vids_are_limited(api):
    person = await api.enrolled()
    for _ in range(5):
        await _new_vid(api, person["sub"])
    response = await api.as_subject(person["sub"], "POST", "/v1/me/vids", json={})
    assert response.status_code == 409
    assert response.json()["code"] == "identity.vid_limit_reached"


async def test_concurrent_requests_cannot_overshoot_the_vid_limit(api, identity):
    """Ten requests at once for a person with one slot left: exactly one VID is issued (both backends; on PostgreSQL
    each request has its own connection, so they truly overlap)."""
    person = await api.enrolled()
    for _ in range(4):
        await _new_vid(api, person["sub"])
    responses = await asyncio.gather(
        *(api.as_subject(person["sub"], "POST", "/v1/me/vids", json={}) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9, [r.text for r in responses]
    listed = await api.as_subject(person["sub"], "GET", "/v1/me/vids")
    assert sum(1 for vid in listed.json() if vid["status"] == "active") == 5


async def test_unknown_and_malformed_vids(api):
    unknown = await api.resolve("vid", generate_vid())
    malformed = await api.resolve("vid", "1234")
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "identity.reference_unknown"
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["loc"] == ["body", "value"]


async def test_vids_are_stored_only_as_index_and_ciphertext(api, identity):
    person = await api.enrolled()
    vid = await _new_vid(api, person["sub"])
    [row] = await table_rows(identity, "vids")
    assert vid["vid"] not in str(row)
    assert vid["vid"].encode() not in row["ciphertext"]


async def test_a_subject_without_an_enrolled_record_is_404(api):
    response = await api.as_subject("sub_unknown", "POST", "/v1/me/vids", json={})
    assert response.status_code == 404
    assert response.json()["code"] == "identity.subject_not_found"


@pytest.mark.rule("SG-SEC-1")
async def test_only_the_subject_manages_vids(api):
    person = await api.enrolled()
    response = await api.call("POST", "/v1/me/vids", roles=("registrar",), subject_ref=person["sub"], json={})
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


async def test_an_enrolment_slip_can_carry_a_first_vid_that_resolves_to_the_person(api, identity):
    plain = await api.enrolled()
    assert plain["vid"] is None, "no VID unless the registrar asks for one"
    person = await api.enrolled({**another_person(), "issue_vid": True})
    assert is_valid_vid(person["vid"])
    resolved = await api.resolve("vid", person["vid"])
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["sub"] == person["sub"]
    mine = await api.as_subject(person["sub"], "GET", "/v1/me/vids")
    assert [v["vid"] for v in mine.json()] == [person["vid"]], "the person sees it among their own VIDs"

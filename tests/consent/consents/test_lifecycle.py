"""The subject's side: listing, granting, denying and revoking, every change with who, when and channel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.consent.consent_helpers import SUBJECT, events


@pytest.mark.rule("SG-CONSENT-4")
async def test_revoking_is_exactly_as_easy_as_granting(api):
    """The same route shape, the same (empty) body, one step, the same answer shape."""
    await api.purpose("CASH")
    consent = await api.requested("CASH")

    granted = await api.act(consent["id"], "grant")
    revoked = await api.act(consent["id"], "revoke")

    assert (granted.status_code, revoked.status_code) == (200, 200)
    assert granted.request.url.path.rsplit("/", 1)[0] == revoked.request.url.path.rsplit("/", 1)[0]
    assert granted.request.content == revoked.request.content == b""
    assert set(granted.json()) == set(revoked.json())
    assert [e["status"] for e in revoked.json()["history"]] == ["requested", "granted", "revoked"]


@pytest.mark.rule("SG-CONSENT-4")
@pytest.mark.parametrize("channel", ["web", "app", "ussd", "sms"])
async def test_every_channel_grants_and_revokes_and_is_recorded(api, channel):
    await api.purpose("CASH")
    consent = await api.requested("CASH")
    assert (await api.act(consent["id"], "grant", channel=channel)).status_code == 200
    revoked = await api.act(consent["id"], "revoke", channel=channel)
    history = revoked.json()["history"]
    assert [(e["status"], e["channel"], e["actor_type"]) for e in history] == [
        ("requested", "web", "requester"), ("granted", channel, "subject"), ("revoked", channel, "subject"),
    ]  # fmt: skip
    assert history[1]["actor"] == "sub_amara"
    assert history[1]["dpv_status"] == "dpv:ConsentGiven"
    assert history[2]["dpv_status"] == "dpv:ConsentWithdrawn"


@pytest.mark.rule("SG-CONSENT-4")
async def test_DELETE_revokes_too(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH")
    response = await api.call("DELETE", f"/v1/me/consents/{consent['id']}", roles=SUBJECT, subject_ref="sub_amara")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"


async def test_the_assisted_channel_records_the_operator_and_the_subjects_confirmation(api):
    await api.purpose("CASH")
    consent = await api.requested("CASH")
    granted = await api.act(consent["id"], "grant", channel="assisted", assisted_by="operator-17")
    assert granted.status_code == 200, granted.text
    step = granted.json()["history"][-1]
    assert (step["channel"], step["assisted_by"], step["actor"], step["subject_confirmed"]) == (
        "assisted", "operator-17", "sub_amara", True,
    )  # fmt: skip

    other = await api.requested("CASH")
    without_operator = await api.act(other["id"], "grant", channel="assisted")
    assert without_operator.status_code == 422
    assert without_operator.json()["code"] == "consent.assisted_without_operator"


async def test_changes_from_the_wrong_status_conflict_and_change_nothing(api):
    await api.purpose("CASH")
    consent = await api.requested("CASH")
    premature = await api.act(consent["id"], "revoke")
    assert premature.status_code == 409
    assert premature.json()["consent_status"] == "requested"
    assert (await api.act(consent["id"], "deny")).status_code == 200
    assert (await api.act(consent["id"], "grant")).status_code == 409
    mine = await api.call("GET", f"/v1/me/consents/{consent['id']}", roles=SUBJECT, subject_ref="sub_amara")
    assert (mine.json()["status"], mine.json()["version"]) == ("denied", 2)


async def test_a_subject_sees_and_changes_only_their_own_consents(api):
    await api.purpose("CASH")
    consent = await api.requested("CASH", subject="sub_amara")
    assert (await api.act(consent["id"], "grant", subject="sub_kofi")).status_code == 404
    theirs = await api.call("GET", f"/v1/me/consents/{consent['id']}", roles=SUBJECT, subject_ref="sub_kofi")
    assert theirs.status_code == 404
    listed = await api.call("GET", "/v1/me/consents", roles=SUBJECT, subject_ref="sub_kofi")
    assert listed.json()["items"] == []
    other_requester = await api.call("GET", f"/v1/consents/{consent['id']}", roles=("relying_party",), client_id="rp-x")
    assert other_requester.status_code == 404


async def test_the_list_is_newest_first_filtered_and_paged(api):
    await api.purpose("CASH")
    made = [await api.requested("CASH") for _ in range(3)]
    await api.act(made[0]["id"], "grant")
    first = await api.call("GET", "/v1/me/consents", roles=SUBJECT, subject_ref="sub_amara", params={"limit": 2})
    assert [c["id"] for c in first.json()["items"]] == [made[2]["id"], made[1]["id"]]
    cursor = first.json()["next_cursor"]
    rest = await api.call(
        "GET", "/v1/me/consents", roles=SUBJECT, subject_ref="sub_amara", params={"limit": 2, "cursor": cursor}
    )
    assert [c["id"] for c in rest.json()["items"]] == [made[0]["id"]]
    assert rest.json()["next_cursor"] is None
    granted = await api.call(
        "GET", "/v1/me/consents", roles=SUBJECT, subject_ref="sub_amara", params={"status": "granted"}
    )
    assert [c["id"] for c in granted.json()["items"]] == [made[0]["id"]]


@pytest.mark.rule("SG-RETAIN-1")
async def test_grant_and_revoke_announce_the_retention_contract(api, consent_svc, clock):
    await api.purpose("CASH")
    consent = await api.granted("CASH", data_items=["household_income_band", "household_size"])
    clock.advance(hours=1)
    await api.act(consent["id"], "revoke")

    granted, revoked = await events(consent_svc, "consent.granted"), await events(consent_svc, "consent.revoked")
    assert len(granted) == len(revoked) == 1
    expires_at = consent["expires_at"]
    assert granted[0]["payload"] | {"at": None, "data_life_until": None} == {
        "consent_id": consent["id"], "subject": "sub_amara", "requester": "rp-social-agency", "purpose": "CASH",
        "items": ["household_income_band", "household_size"], "data_life_until": None, "at": None,
    }  # fmt: skip
    from datetime import datetime

    assert datetime.fromisoformat(granted[0]["payload"]["data_life_until"]) == datetime.fromisoformat(
        expires_at
    ) + timedelta(days=7), "granted: the end of validity plus the data life"
    grace = consent_svc.settings.revocation_grace_seconds
    assert datetime.fromisoformat(revoked[0]["payload"]["data_life_until"]) == clock.now() + timedelta(seconds=grace), (
        "revoked: the revocation plus the grace period"
    )
    assert datetime.fromisoformat(revoked[0]["payload"]["at"]) == clock.now()


@pytest.mark.rule("SG-CONSENT-5")
async def test_the_expiry_timer_marks_expired_consents_and_announces_them_once(api, consent_svc, clock):
    await api.purpose("CASH")
    consent = await api.granted("CASH", expires_at=(clock.now() + timedelta(days=1)).isoformat())
    never_answered = await api.requested("CASH", expires_at=(clock.now() + timedelta(days=1)).isoformat())
    schedule = consent_svc.app.state.consent_expiry

    assert await schedule.run_once() == []
    clock.advance(days=1)
    assert sorted(await schedule.run_once()) == sorted([consent["id"], never_answered["id"]])
    assert await schedule.run_once() == [], "each artefact expires once"

    mine = await api.call("GET", f"/v1/me/consents/{consent['id']}", roles=SUBJECT, subject_ref="sub_amara")
    last = mine.json()["history"][-1]
    assert (last["status"], last["actor_type"], last["channel"]) == ("expired", "system", "internal")
    expired = await events(consent_svc, "consent.expired")
    assert [e["payload"]["consent_id"] for e in expired] == [consent["id"]], "only a granted consent announces it"
    assert (await api.decide("CASH"))["rule_id"] == "SG-CONSENT-5"
    assert (await api.act(never_answered["id"], "grant")).status_code == 409

"""A person locks and unlocks ways of authenticating them (MOSIP's auth-type lock); locked factors fail everywhere."""

from __future__ import annotations

from tests.identity.access_helpers import OPERATOR, TEMPLATE, authn, call, enrolled, request_otp
from tests.identity.identity_helpers import SUBJECT, events, table_rows

BIOMETRIC = {"type": "biometric", "template": TEMPLATE}


async def _lock(api, person, factor: str, locked: bool = True):
    return await call(
        api, "PUT", f"/v1/me/auth-factors/{factor}", roles=SUBJECT, subject_ref=person.sub, json={"locked": locked}
    )


async def _locks(api, person) -> dict[str, bool]:
    response = await call(api, "GET", "/v1/me/auth-factors", roles=SUBJECT, subject_ref=person.sub)
    assert response.status_code == 200, response.text
    return {item["factor"]: item["locked"] for item in response.json()["items"]}


async def test_a_locked_biometric_fails_until_the_person_unlocks_it(api) -> None:
    person = await enrolled(api, biometric_template=TEMPLATE, consents={"biometric": True, "notices": False})
    assert (await authn(api, person, BIOMETRIC)).status_code == 200

    locked = await _lock(api, person, "biometric")
    assert locked.status_code == 200, locked.text
    assert (await _locks(api, person))["biometric"] is True
    refused = await authn(api, person, BIOMETRIC)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "biometric.locked"
    assert refused.json()["alternatives"] == ["otp", "pin", "offline_qr", "assisted"]
    code = await request_otp(api, person)
    assert (await authn(api, person, {"type": "otp", "otp": code})).status_code == 200  # the rest stays open

    assert (await _lock(api, person, "biometric", locked=False)).status_code == 200
    assert (await authn(api, person, BIOMETRIC)).status_code == 200
    history = await call(api, "GET", "/v1/me/auth-history", roles=SUBJECT, subject_ref=person.sub)
    reasons = [entry["reason"] for entry in history.json()["items"]]
    assert reasons.count("biometric.locked") == 1  # the refused attempt is on record like any other
    changes = [e["subject"] for e in await events(api.svc) if e["subject"].startswith("identity.auth_factor.")]
    assert changes == ["identity.auth_factor.locked", "identity.auth_factor.unlocked"]


async def test_one_time_codes_and_the_pin_cannot_both_be_locked(api) -> None:
    person = await enrolled(api)
    assert (await _lock(api, person, "otp")).status_code == 200
    both = await _lock(api, person, "pin")
    assert both.status_code == 409
    assert both.json()["code"] == "identity.authn.last_own_factor"
    assert (await _locks(api, person)) == {
        "otp": True, "pin": False, "biometric": False, "offline_qr": False, "assisted": False,
    }  # fmt: skip
    assert (await _lock(api, person, "otp", locked=False)).status_code == 200
    assert (await _lock(api, person, "pin")).status_code == 200


async def test_a_lock_holds_for_the_assisted_channel_and_its_confirmation(api) -> None:
    person = await enrolled(api)
    context = {"client_id": "field-console", "assisted_by": "op-17", "channel": "assisted"}
    assert (await _lock(api, person, "otp")).status_code == 200
    code = await request_otp(api, person, client_id="field-console", roles=OPERATOR)
    confirmed_by_otp = {"type": "assisted", "confirmation": {"type": "otp", "otp": code}}
    refused = await authn(api, person, confirmed_by_otp, roles=OPERATOR, **context)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "assisted.otp.locked"

    assert (await _lock(api, person, "otp", locked=False)).status_code == 200
    assert (await _lock(api, person, "assisted")).status_code == 200
    code = await request_otp(api, person, client_id="field-console", roles=OPERATOR)
    confirmed_by_otp = {"type": "assisted", "confirmation": {"type": "otp", "otp": code}}
    refused = await authn(api, person, confirmed_by_otp, roles=OPERATOR, **context)
    assert refused.json()["reason"] == "assisted.locked"


async def test_locking_twice_changes_nothing_and_is_announced_once(api) -> None:
    person = await enrolled(api)
    for _ in range(2):
        response = await _lock(api, person, "offline_qr")
        assert response.json() == {"factor": "offline_qr", "locked": True}
    [row] = [r for r in await table_rows(api.svc, "persons") if r["id"] == person.person_id]
    assert row["locked_factors"] == ["offline_qr"]
    assert len(await events(api.svc, "identity.auth_factor.locked")) == 1


async def test_only_known_factors_and_only_the_subject(api) -> None:
    person = await enrolled(api)
    assert (await _lock(api, person, "password")).status_code == 422
    response = await call(
        api, "PUT", "/v1/me/auth-factors/pin", roles=("relying_party",), subject_ref=person.sub, json={"locked": True}
    )
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


async def test_attempts_on_a_locked_pin_are_no_guesses_and_do_not_pause_it(api) -> None:
    person = await enrolled(api)
    set_pin = await call(api, "PUT", "/v1/me/pin", roles=SUBJECT, subject_ref=person.sub, json={"pin": "2468"})
    assert set_pin.status_code == 200, set_pin.text
    assert (await _lock(api, person, "pin")).status_code == 200
    for _ in range(6):
        refused = await authn(api, person, {"type": "pin", "pin": "2468"})
        assert refused.json()["reason"] == "pin.locked"
    assert (await _lock(api, person, "pin", locked=False)).status_code == 200
    assert (await authn(api, person, {"type": "pin", "pin": "2468"})).status_code == 200

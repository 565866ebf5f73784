"""The auth history a person can read, the outbox events and the access notices of each attempt."""

from __future__ import annotations

import json

from tests.identity.access_helpers import RELYING_PARTY, TRAINER, authn, call, enrolled, messages, request_otp
from tests.identity.identity_helpers import SUBJECT, events


async def _history(api, sub, **params):
    return await call(api, "GET", "/v1/me/auth-history", roles=SUBJECT, subject_ref=sub, params=params or None)


async def test_every_attempt_is_listed_newest_first_in_pages(api) -> None:
    person = await enrolled(api)
    code = await request_otp(api, person)
    await authn(api, person, {"type": "otp", "otp": code})
    await authn(api, person, {"type": "biometric", "template": "synthetic-template:x"})
    await authn(api, person, {"type": "pin", "pin": "2468"}, client_id="rp-clinic")

    first = await _history(api, person.sub, limit=2)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(e["factor"], e["result"], e["relying_party"]) for e in page["items"]] == [
        ("pin", "failure", "rp-clinic"),
        ("biometric", "failure", "rp-bank"),
    ]
    assert page["items"][0]["reason"] == "pin.not_set"
    second = (await _history(api, person.sub, limit=2, cursor=page["next_cursor"])).json()
    assert [(e["factor"], e["result"]) for e in second["items"]] == [("otp", "success")]
    assert second["next_cursor"] is None
    assert code not in first.text + json.dumps(second)


async def test_a_person_sees_only_their_own_history(api) -> None:
    person, other = await enrolled(api), await enrolled(api)
    await authn(api, other, {"type": "pin", "pin": "2468"})
    assert (await _history(api, person.sub)).json()["items"] == []
    assert len((await _history(api, other.sub)).json()["items"]) == 1


async def test_only_the_subject_reads_it(api) -> None:
    person = await enrolled(api)
    response = await call(api, "GET", "/v1/me/auth-history", roles=RELYING_PARTY, subject_ref=person.sub)
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


async def test_a_malformed_cursor_is_invalid(api) -> None:
    person = await enrolled(api)
    assert (await _history(api, person.sub, cursor="' OR 1=1")).status_code == 422


async def test_outbox_events_carry_ids_and_codes_only(api) -> None:
    person = await enrolled(api)
    code = await request_otp(api, person)
    await authn(api, person, {"type": "otp", "otp": code})
    await authn(api, person, {"type": "pin", "pin": "2468"})
    [succeeded] = await events(api.svc, "identity.authn.succeeded")
    [failed] = await events(api.svc, "identity.authn.failed")
    for event in (succeeded, failed):
        payload = event["payload"]
        assert payload["person_id"] == person.person_id
        assert payload["sub"] == person.sub
        assert payload["client_id"] == "rp-bank"
        assert payload["auth_event_id"].startswith("ahe_")
        text = json.dumps(payload)
        for secret in (person.uin, person.vid, code, "2468", "Mensah"):
            assert secret not in text
    assert succeeded["payload"]["factor"] == "otp"
    assert failed["payload"]["factor"] == "pin"


async def test_each_attempt_sends_an_access_notice_in_the_persons_language(api) -> None:
    person = await enrolled(api, preferred_language="fr-SN")
    await authn(api, person, {"type": "pin", "pin": "2468"})
    [notice] = await messages(api, person.sub, kind="access_notice")
    assert notice["language"] == "fr"
    assert notice["language_fallback"] is False
    assert "rp-bank" in notice["body"] and "échoué" in notice["body"]
    assert "/me/grievances" in notice["body"]


async def test_a_language_without_templates_falls_back_and_says_so(api) -> None:
    person = await enrolled(api, preferred_language="sw")
    await authn(api, person, {"type": "pin", "pin": "2468"})
    [notice] = await messages(api, person.sub, kind="access_notice")
    assert notice["language"] == "en"
    assert notice["language_fallback"] is True


async def test_without_consent_to_notices_the_access_notice_goes_to_the_app_inbox_only(api) -> None:
    person = await enrolled(api, consents={"biometric": False, "notices": False})
    await authn(api, person, {"type": "pin", "pin": "2468"})
    [notice] = await messages(api, person.sub, kind="access_notice")
    assert notice["channel"] == "app", "no SMS or e-mail for someone who declined notices, but the inbox has it"


async def test_the_message_simulator_is_for_trainers_only(api) -> None:
    person = await enrolled(api)
    for roles in (RELYING_PARTY, SUBJECT, ("registrar",)):
        response = await call(
            api, "GET", "/v1/simulated-messages", roles=roles, subject_ref=person.sub,
            params={"recipient_sub": person.sub},
        )  # fmt: skip
        assert response.status_code == 403 and response.json()["rule_id"] == "SG-SEC-1", roles
    unknown = await call(api, "GET", "/v1/simulated-messages", roles=TRAINER, params={"recipient_sub": "sub_x"})
    assert unknown.status_code == 404


async def test_the_message_simulator_exists_only_in_dev_and_test(service_factory, gateway) -> None:
    """In production a trainer account must not read the one-time codes the service sends: the route is not there."""
    production = await service_factory("identity", environment="production")
    headers = gateway.headers("identity", roles=TRAINER)
    response = await production.client.get("/v1/simulated-messages", params={"recipient_sub": "sub_x"}, headers=headers)
    assert response.status_code == 404
    assert "/v1/simulated-messages" not in (await production.client.get("/openapi.json")).json()["paths"]

"""The subject's offline credential: minimal claims, no UIN, verifiable with the published JWKS alone (SG-INCL-4)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.common.keys import b64url, b64url_decode
from services.identity.credentials.offline import InvalidCredential, verify_offline_qr
from tests.identity.access_helpers import RELYING_PARTY, TEMPLATE, call, enrolled
from tests.identity.identity_helpers import SUBJECT, events

pytestmark = pytest.mark.rule("SG-INCL-4")


async def _issue(api, sub):
    return await call(api, "POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=sub)


async def test_it_verifies_with_the_published_jwks_and_nothing_else(api, clock) -> None:
    person = await enrolled(api)
    response = await _issue(api, person.sub)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["qr_payload"] == "DPI1:" + issued["credential"]

    jwks = (await api.svc.client.get("/.well-known/jwks.json")).json()  # the one and only call a verifier makes
    await api.svc.client.aclose()  # from here on there is no network at all
    claims = verify_offline_qr(issued["qr_payload"], jwks, now=clock.now() + timedelta(days=1))
    assert claims["sub"] == issued["claims"]["sub"] and claims["sub"].startswith("tok_")
    assert claims["name"] == issued["claims"]["name"]
    assert set(claims) == {"sub", "name", "iss", "iat", "exp", "status"}
    assert claims["status"] == {"status_list": {"idx": issued["status_index"], "uri": issued["status_list_uri"]}}
    assert claims["exp"] - claims["iat"] == 90 * 24 * 3600
    with pytest.raises(InvalidCredential):
        verify_offline_qr(issued["qr_payload"], jwks, now=clock.now() + timedelta(days=91))


async def test_tampering_with_one_character_fails(api, clock) -> None:
    person = await enrolled(api)
    issued = (await _issue(api, person.sub)).json()
    jwks = (await api.svc.client.get("/.well-known/jwks.json")).json()
    header, payload, signature = issued["credential"].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["name"] = "Someone Else"
    forged = "DPI1:" + ".".join([header, b64url(json.dumps(claims).encode()), signature])
    with pytest.raises(InvalidCredential):
        verify_offline_qr(forged, jwks, now=clock.now())
    flipped = issued["qr_payload"][:-1] + ("A" if issued["qr_payload"][-1] != "A" else "B")
    with pytest.raises(InvalidCredential):
        verify_offline_qr(flipped, jwks, now=clock.now())


async def test_the_payload_holds_no_uin(api) -> None:
    person = await enrolled(api, biometric_template=TEMPLATE, consents={"biometric": True, "notices": False})
    issued = (await _issue(api, person.sub)).json()
    payload = json.loads(b64url_decode(issued["credential"].split(".")[1]))
    text = json.dumps(payload)
    assert person.uin not in text and person.uin not in issued["qr_payload"]
    assert "uin" not in {key.casefold() for key in payload}
    assert person.sub not in text  # nor the internal subject reference
    assert payload["photo_hash"].startswith("sha256:")


async def test_the_token_is_the_offline_verifiers_pairwise_token(api) -> None:
    person = await enrolled(api)
    issued = (await _issue(api, person.sub)).json()
    assert issued["claims"]["sub"] == await api.pairwise_token(person.sub, "offline-verifier")
    assert issued["claims"]["photo_hash"] is None
    [event] = await events(api.svc, "identity.offline_credential.issued")
    assert event["payload"] == {"person_id": person.person_id, "sub": person.sub, "credential_id": issued["id"]}


async def test_only_the_subject_gets_their_credential(api) -> None:
    person = await enrolled(api)
    response = await call(api, "POST", "/v1/me/offline-credential", roles=RELYING_PARTY, subject_ref=person.sub)
    assert response.status_code == 403 and response.json()["rule_id"] == "SG-SEC-1"

"""Revoking an offline credential: the holder revokes it, the online factor refuses it at once, and offline
verifiers refuse it once they fetch the IETF Token Status List again (SG-INCL-4)."""

from __future__ import annotations

import asyncio
import json
import zlib
from datetime import timedelta

import httpx
import pytest

from dpi_sandbox.registry import entry
from services.common.assertion import StaticJwks
from services.common.bus import InProcessBus
from services.common.keys import b64url, b64url_decode, rotate_signing_key
from services.identity.credentials.offline import InvalidCredential, verify_offline_qr
from services.identity.credentials.status_list import (
    MAX_LIST_BYTES,
    StatusListError,
    decode_list,
    encode_list,
    status_at,
)
from tests.identity.access_helpers import authn, call, enrolled
from tests.identity.identity_helpers import SUBJECT, events

STATUS_LIST = "/v1/credentials/status-lists/1"


async def _issue(api, sub):
    response = await call(api, "POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=sub)
    assert response.status_code == 201, response.text
    return response.json()


async def _revoke(api, sub, credential_id):
    return await call(api, "POST", f"/v1/me/offline-credentials/{credential_id}/revoke", roles=SUBJECT, subject_ref=sub)


async def _status_list(api) -> str:
    response = await api.svc.client.get(STATUS_LIST)  # public: no gateway assertion
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/statuslist+jwt")
    return response.text


def _claims(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[1]))


@pytest.mark.rule("SG-INCL-4")
async def test_a_revoked_credential_fails_offline_once_the_verifier_refreshes_its_list(api, clock) -> None:
    person = await enrolled(api)
    issued = await _issue(api, person.sub)
    jwks = (await api.svc.client.get("/.well-known/jwks.json")).json()
    fetched_before = await _status_list(api)
    assert verify_offline_qr(issued["qr_payload"], jwks, now=clock.now(), status_list_token=fetched_before)

    revoked = await _revoke(api, person.sub, issued["id"])
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"

    fetched_after = await _status_list(api)
    with pytest.raises(InvalidCredential, match="revoked"):
        verify_offline_qr(issued["qr_payload"], jwks, now=clock.now(), status_list_token=fetched_after)
    # A verifier still holding the earlier list does not know yet: that is what the list's ttl bounds.
    assert verify_offline_qr(issued["qr_payload"], jwks, now=clock.now(), status_list_token=fetched_before)
    listing = _claims(fetched_after)
    assert listing["sub"] == issued["status_list_uri"] and listing["ttl"] == 300
    with pytest.raises(InvalidCredential, match="expired"):
        verify_offline_qr(
            issued["qr_payload"], jwks, now=clock.now() + timedelta(seconds=601), status_list_token=fetched_before
        )


@pytest.mark.rule("SG-INCL-4")
async def test_the_online_factor_refuses_a_revoked_credential_at_once(api) -> None:
    person = await enrolled(api)
    issued = await _issue(api, person.sub)
    factor = {"type": "offline_qr", "qr_payload": issued["qr_payload"]}
    assert (await authn(api, person, factor)).status_code == 200

    assert (await _revoke(api, person.sub, issued["id"])).status_code == 200
    refused = await authn(api, person, factor)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "offline_qr.revoked"
    newer = await _issue(api, person.sub)  # a new credential works; the old one stays revoked
    assert (await authn(api, person, {"type": "offline_qr", "qr_payload": newer["qr_payload"]})).status_code == 200
    assert (await authn(api, person, factor)).status_code == 401


async def test_the_holder_lists_and_revokes_only_their_own(api, clock) -> None:
    holder, other = await enrolled(api), await enrolled(api)
    first, second = await _issue(api, holder.sub), await _issue(api, holder.sub)
    assert first["status_index"] != second["status_index"]

    stolen = await _revoke(api, other.sub, first["id"])
    assert stolen.status_code == 404
    assert stolen.json()["code"] == "identity.offline_credential_not_found"

    assert (await _revoke(api, holder.sub, first["id"])).status_code == 200
    again = await _revoke(api, holder.sub, first["id"])
    assert again.status_code == 200 and again.json()["revoked_at"] is not None
    clock.advance(days=91)
    listed = await call(api, "GET", "/v1/me/offline-credentials", roles=SUBJECT, subject_ref=holder.sub)
    assert [(c["id"], c["status"]) for c in listed.json()["items"]] == [
        (first["id"], "revoked"),
        (second["id"], "expired"),
    ]
    [event] = await events(api.svc, "identity.offline_credential.revoked")  # one, however often it was asked
    assert event["payload"]["credential_id"] == first["id"]
    mine = await call(api, "GET", "/v1/me/offline-credentials", roles=SUBJECT, subject_ref=other.sub)
    assert mine.json()["items"] == []


async def test_two_revocations_at_once_announce_it_once(api) -> None:
    person = await enrolled(api)
    issued = await _issue(api, person.sub)
    both = await asyncio.gather(*(_revoke(api, person.sub, issued["id"]) for _ in range(2)))
    assert [r.status_code for r in both] == [200, 200]
    assert all(r.json()["status"] == "revoked" for r in both)
    assert len(await events(api.svc, "identity.offline_credential.revoked")) == 1


async def test_the_status_list_is_signed_and_tampering_with_it_fails(api, clock) -> None:
    person = await enrolled(api)
    issued = await _issue(api, person.sub)
    await _revoke(api, person.sub, issued["id"])
    jwks = (await api.svc.client.get("/.well-known/jwks.json")).json()
    token = await _status_list(api)
    header, payload, signature = token.split(".")
    listing = json.loads(b64url_decode(payload))
    listing["status_list"]["lst"] = encode_list([], 1 << 20)  # "nothing was revoked"
    forged = ".".join([header, b64url(json.dumps(listing).encode()), signature])
    with pytest.raises(InvalidCredential, match="signature"):
        verify_offline_qr(issued["qr_payload"], jwks, now=clock.now(), status_list_token=forged)
    # Nor can a credential's own JWS stand in for the list.
    with pytest.raises(InvalidCredential, match="token type"):
        verify_offline_qr(issued["qr_payload"], jwks, now=clock.now(), status_list_token=issued["credential"])


def test_the_list_encoding_matches_the_drafts_example() -> None:
    # draft-ietf-oauth-status-list, "Status List in JSON format": 16 one-bit entries, bytes b9 a3.
    example = {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}
    assert decode_list(example) == bytes([0xB9, 0xA3])
    revoked = [0, 3, 4, 5, 7, 8, 9, 13, 15]
    assert [status_at(decode_list(example), i) for i in range(16)] == [int(i in revoked) for i in range(16)]
    assert decode_list({"bits": 1, "lst": encode_list(revoked, 16)}) == bytes([0xB9, 0xA3])
    with pytest.raises(StatusListError):
        status_at(decode_list(example), 16)
    with pytest.raises(StatusListError):
        decode_list({"bits": 2, "lst": example["lst"]})
    too_big = {"bits": 1, "lst": b64url(zlib.compress(bytes(MAX_LIST_BYTES + 1)))}  # a few KiB that inflate past it
    with pytest.raises(StatusListError, match="inflates beyond"):
        decode_list(too_big)


@pytest.mark.rule("SG-INCL-4")
async def test_an_offline_credential_signed_before_a_rotation_still_works_after_a_restart(
    api, identity, gateway, clock
) -> None:
    """A key rotation must not void what the old key signed: printed credentials live for months."""
    person = await enrolled(api)
    issued = await call(api, "POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=person.sub)
    assert issued.status_code == 201, issued.text
    old_kid = issued.json()["key_id"]

    new = rotate_signing_key(
        identity.settings.resolved_keys_dir, "identity", publish_for=timedelta(days=91), now=clock.now()
    )
    restarted = entry("identity").factory(
        identity.settings, clock=clock, bus=InProcessBus(), gateway_jwks=StaticJwks(gateway.jwks)
    )
    async with (
        restarted.router.lifespan_context(restarted),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=restarted), base_url="http://identity") as client,
    ):
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert [key["kid"] for key in jwks["keys"]] == [new.kid, old_kid]
        body = {
            "individual": {"type": "vid", "value": person.vid},
            "factor": {"type": "offline_qr", "qr_payload": issued.json()["qr_payload"]},
        }
        headers = gateway.headers("identity", client_id="rp-bank", roles=("relying_party",))
        response = await client.post("/v1/authn", json=body, headers=headers)
        assert response.status_code == 200, response.text
        fresh = await client.post(
            "/v1/me/offline-credential", headers=gateway.headers("identity", roles=SUBJECT, subject_ref=person.sub)
        )
        assert fresh.json()["key_id"] == new.kid

"""Signed receipts: one per artefact version, ISO/IEC TS 27560 shaped, verifiable offline with only the JWKS."""

from __future__ import annotations

import json

import pytest
import rfc8785
from jose import jwk, jws
from jose.exceptions import JWSError

from services.common.keys import SigningKey, b64url, b64url_decode
from tests.consent.consent_helpers import SUBJECT


async def published_key(api):  # type: ignore[no-untyped-def]
    jwks = (await api.svc.client.get("/.well-known/jwks.json")).json()
    return {key["kid"]: key for key in jwks["keys"]}


def verify(token: str, keys: dict) -> dict:  # type: ignore[type-arg]
    header = json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))
    key = keys[header["kid"]]
    payload = jws.verify(token, jwk.construct(key, "ES256"), algorithms=["ES256"])
    return json.loads(payload)  # type: ignore[no-any-return]


async def my_receipts(api, **params):  # type: ignore[no-untyped-def]
    response = await api.call("GET", "/v1/me/receipts", roles=SUBJECT, subject_ref="sub_amara", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_every_change_of_an_artefact_gets_a_receipt_in_the_27560_shape(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH")
    await api.act(consent["id"], "revoke")

    receipts = await my_receipts(api, consent_id=consent["id"])
    assert [(r["artefact_version"], r["status"]) for r in receipts] == [
        (3, "revoked"),
        (2, "granted"),
        (1, "requested"),
    ]
    latest = receipts[0]["record"]
    assert set(latest) >= {"schema_version", "receipt_id", "header", "processing", "parties", "events", "status"}
    assert latest["header"] == {
        "record_id": consent["id"], "version": 3, "created_at": latest["header"]["created_at"],
        "updated_at": latest["header"]["updated_at"],
    }  # fmt: skip
    assert latest["parties"] == {"controller": "rp-social-agency", "data_subject": "sub_amara"}
    assert latest["processing"]["personal_data"] == ["household_income_band"]
    assert latest["processing"]["legal_basis"] == "dpv:Consent"
    assert latest["processing"]["purpose"]["dpv_purpose"] == "dpv:PublicBenefit"
    assert [e["dpv_status"] for e in latest["events"]] == ["dpv:ConsentRequested", "dpv:ConsentGiven",
                                                           "dpv:ConsentWithdrawn"]  # fmt: skip
    assert latest["status"] == {"value": "revoked", "dpv_status": "dpv:ConsentWithdrawn"}
    history = (await api.call("GET", f"/v1/me/consents/{consent['id']}", roles=SUBJECT, subject_ref="sub_amara")).json()
    assert [e["receipt_id"] for e in history["history"]] == [r["id"] for r in reversed(receipts)]


async def test_receipts_chain_each_to_its_predecessor(api):
    import hashlib

    await api.purpose("CASH")
    consent = await api.granted("CASH")
    older, newer = reversed(await my_receipts(api, consent_id=consent["id"]))
    assert older["record"]["predecessor"] is None
    assert newer["record"]["predecessor"] == {
        "receipt_id": older["id"],
        "sha256": hashlib.sha256(older["jws"].encode()).hexdigest(),
    }


async def test_a_receipt_verifies_offline_with_the_published_key(api):
    await api.purpose("CASH")
    await api.granted("CASH")
    keys = await published_key(api)
    for receipt in await my_receipts(api):
        assert verify(receipt["jws"], keys) == receipt["record"]
        header = json.loads(b64url_decode(receipt["jws"].split(".")[0]))
        assert (header["alg"], header["typ"], header["kid"]) == ("ES256", "consent-receipt+jws", receipt["kid"])
        assert b64url_decode(receipt["jws"].split(".")[1]) == rfc8785.dumps(receipt["record"]), "RFC 8785 canonical"


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["processing"]["personal_data"].append("full_name"),
        lambda r: r["parties"].update(controller="rp-someone-else"),
        lambda r: r["status"].update(value="granted"),
        lambda r: r["header"].update(version=99),
        lambda r: r["events"].pop(),
    ],
)
async def test_changing_any_field_breaks_the_signature(api, change):
    await api.purpose("CASH")
    consent = await api.granted("CASH")
    await api.act(consent["id"], "revoke")
    receipt = (await my_receipts(api))[0]
    header, _, signature = receipt["jws"].split(".")
    record = receipt["record"]
    change(record)
    forged = ".".join((header, b64url(rfc8785.dumps(record)), signature))
    with pytest.raises(JWSError):
        verify(forged, await published_key(api))


async def test_a_receipt_signed_by_another_key_fails(api):
    await api.purpose("CASH")
    await api.granted("CASH")
    receipt = (await my_receipts(api))[0]
    header = json.loads(b64url_decode(receipt["jws"].split(".")[0]))
    impostor = SigningKey.generate()
    forged = jws.sign(
        rfc8785.dumps(receipt["record"]), impostor.private_pem.decode(), headers=header, algorithm="ES256"
    )
    with pytest.raises(JWSError):
        verify(forged, await published_key(api))


async def test_the_subject_downloads_a_receipt_and_no_one_elses(api):
    await api.purpose("CASH")
    await api.granted("CASH")
    receipt = (await my_receipts(api))[0]
    download = await api.call("GET", f"/v1/me/receipts/{receipt['id']}/jws", roles=SUBJECT, subject_ref="sub_amara")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/jose"
    assert download.text == receipt["jws"]
    one = await api.call("GET", f"/v1/me/receipts/{receipt['id']}", roles=SUBJECT, subject_ref="sub_amara")
    assert one.json()["jws"] == receipt["jws"]
    other = await api.call("GET", f"/v1/me/receipts/{receipt['id']}", roles=SUBJECT, subject_ref="sub_kofi")
    assert other.status_code == 404
    assert (await api.call("GET", "/v1/me/receipts", roles=SUBJECT, subject_ref="sub_kofi")).json()["items"] == []

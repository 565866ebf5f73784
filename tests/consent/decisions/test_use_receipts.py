"""Signed data-use receipts on permits: purpose-bound, so a downstream service can refuse another purpose."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.keys import b64url, b64url_decode
from services.consent.client import UseReceiptRefused, verify_use_receipt


async def jwks(api):  # type: ignore[no-untyped-def]
    return (await api.svc.client.get("/.well-known/jwks.json")).json()


@pytest.mark.rule("SG-PURPOSE-2")
async def test_a_permit_carries_a_receipt_that_verifies_only_for_its_purpose(api, clock):
    await api.purpose("CASH")
    consent = await api.granted("CASH", data_items=["household_income_band", "household_size"])
    decision = await api.decide("CASH", items=["household_size"], use_receipt=True)
    assert decision["decision"] == "permit"
    keys = await jwks(api)

    claims = verify_use_receipt(
        decision["use_receipt"], keys, purpose="CASH", requester="rp-social-agency", now=clock.now()
    )
    assert claims | {"iat": None, "exp": None} == {
        "iss": "consent", "aud": "rp-social-agency", "sub": "sub_amara", "purpose": "CASH",
        "items": ["household_size"], "consent_id": consent["id"], "decision_id": decision["decision_id"],
        "legal_basis": "consent", "iat": None, "exp": None,
    }  # fmt: skip

    with pytest.raises(UseReceiptRefused, match="not MARKETING"):
        verify_use_receipt(decision["use_receipt"], keys, purpose="MARKETING", now=clock.now())
    with pytest.raises(UseReceiptRefused):
        verify_use_receipt(decision["use_receipt"], keys, purpose="CASH", requester="rp-other", now=clock.now())
    with pytest.raises(UseReceiptRefused):
        verify_use_receipt(decision["use_receipt"], keys, purpose="CASH", now=clock.now() + timedelta(days=8))


@pytest.mark.rule("SG-PURPOSE-2")
async def test_a_receipt_rewritten_for_another_purpose_fails(api, clock):
    await api.purpose("CASH")
    await api.granted("CASH")
    token = (await api.decide("CASH", use_receipt=True))["use_receipt"]
    header, payload, signature = token.split(".")
    rewritten = b64url_decode(payload).replace(b'"purpose":"CASH"', b'"purpose":"MARKETING"')
    with pytest.raises(UseReceiptRefused):
        verify_use_receipt(".".join((header, b64url(rewritten), signature)), await jwks(api), purpose="MARKETING",
                           now=clock.now())  # fmt: skip


async def test_no_receipt_unless_asked_and_none_on_a_deny(api):
    await api.purpose("CASH")
    assert (await api.decide("CASH", use_receipt=True))["use_receipt"] is None
    await api.granted("CASH")
    assert (await api.decide("CASH"))["use_receipt"] is None

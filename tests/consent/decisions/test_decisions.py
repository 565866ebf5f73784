"""POST /v1/decisions: what the gateway is told before any provider is called."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from tests.consent.consent_helpers import RP, SUBJECT


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_granted_consent_permits_with_the_covered_items_and_its_version(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH", data_items=["household_income_band", "household_size"])

    decision = await api.decide("CASH", items=["household_income_band", "full_name"])

    assert decision["decision"] == "permit"
    assert decision["consent_id"] == consent["id"]
    assert decision["artefact_version"] == consent["version"] == 2
    assert decision["covered_items"] == ["household_income_band"], "only what the consent covers"
    assert decision["legal_basis"] == "consent"
    assert decision["rule_id"] is None
    assert datetime.fromisoformat(decision["valid_until"]) == datetime.fromisoformat(consent["expires_at"])
    kept_until = datetime.fromisoformat(decision["data_life_until"])
    assert kept_until == api.clock.now() + timedelta(days=7), "the use's data may be kept for the data life"


@pytest.mark.rule("SG-CONSENT-1")
async def test_no_consent_denies_and_so_do_other_requesters_and_other_subjects(api):
    await api.purpose("CASH")
    await api.granted("CASH")

    assert (await api.decide("CASH", subject="sub_other"))["rule_id"] == "SG-CONSENT-1"
    other_rp = await api.decide("CASH", requester="rp-someone-else")
    assert (other_rp["decision"], other_rp["rule_id"]) == ("deny", "SG-CONSENT-1")
    assert other_rp["covered_items"] == []


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_requested_or_denied_consent_does_not_permit(api):
    await api.purpose("CASH")
    consent = await api.requested("CASH")
    assert (await api.decide("CASH"))["rule_id"] == "SG-CONSENT-1"
    assert (await api.act(consent["id"], "deny")).status_code == 200
    denied = await api.decide("CASH")
    assert (denied["decision"], denied["rule_id"], denied["consent_id"]) == ("deny", "SG-CONSENT-1", consent["id"])


@pytest.mark.rule("SG-CONSENT-4")
async def test_revocation_is_effective_for_the_very_next_decision(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH")
    assert (await api.decide("CASH"))["decision"] == "permit"

    revoked = await api.act(consent["id"], "revoke")
    assert revoked.status_code == 200, revoked.text

    decision = await api.decide("CASH")
    assert (decision["decision"], decision["rule_id"]) == ("deny", "SG-CONSENT-4")
    assert decision["consent_id"] == consent["id"]


@pytest.mark.rule("SG-CONSENT-3")
async def test_a_consent_covering_none_of_the_items_denies(api):
    await api.purpose("CASH")
    await api.granted("CASH", data_items=["household_size"])
    decision = await api.decide("CASH", items=["full_name"])
    assert (decision["decision"], decision["rule_id"]) == ("deny", "SG-CONSENT-3")


@pytest.mark.rule("SG-PURPOSE-1")
async def test_an_unregistered_or_suspended_purpose_denies(api):
    assert (await api.decide("NOT_REGISTERED"))["rule_id"] == "SG-PURPOSE-1"
    await api.purpose("CASH")
    await api.granted("CASH")
    suspended = await api.call(
        "POST", "/v1/purposes/CASH/status", roles=("oversight",), json={"status": "suspended", "reason": "Review."}
    )
    assert suspended.status_code == 200, suspended.text
    decision = await api.decide("CASH")
    assert (decision["decision"], decision["rule_id"]) == ("deny", "SG-PURPOSE-1")


@pytest.mark.rule("SG-CONSENT-5")
async def test_a_consent_past_its_end_of_validity_denies_before_the_timer_marks_it(api, clock):
    await api.purpose("CASH")
    await api.granted("CASH", expires_at=(clock.now() + timedelta(days=2)).isoformat())
    assert (await api.decide("CASH"))["decision"] == "permit"
    clock.advance(days=2)
    decision = await api.decide("CASH")
    assert (decision["decision"], decision["rule_id"]) == ("deny", "SG-CONSENT-5")


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_use_count_permits_exactly_that_many_decisions(api):
    await api.purpose("CASH")
    await api.granted("CASH", use_count=2)
    first, second, third = [await api.decide("CASH") for _ in range(3)]
    assert (first["decision"], first["uses_remaining"]) == ("permit", 1)
    assert (second["decision"], second["uses_remaining"]) == ("permit", 0)
    assert (third["decision"], third["rule_id"]) == ("deny", "SG-CONSENT-1")


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_dry_run_reaches_the_same_outcome_and_spends_no_use(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH", use_count=1, frequency={"unit": "day", "value": 1})
    dry_runs = [await api.decide("CASH", dry_run=True) for _ in range(3)]
    assert [(d["decision"], d["dry_run"], d["uses_remaining"]) for d in dry_runs] == [("permit", True, 0)] * 3
    assert dry_runs[0]["consent_id"] == consent["id"]
    assert dry_runs[0]["use_receipt"] is None
    stored = (await api.call("GET", f"/v1/consents/{consent['id']}", roles=("relying_party",))).json()
    assert (stored["uses"], stored["last_used_at"]) == (0, None), "a dry run writes nothing"

    real = await api.decide("CASH")
    assert (real["decision"], real["dry_run"], real["uses_remaining"]) == ("permit", False, 0)
    spent = await api.decide("CASH", dry_run=True)
    assert (spent["decision"], spent["rule_id"], spent["dry_run"]) == ("deny", "SG-CONSENT-1", True)
    assert (await api.decide("CASH"))["rule_id"] == "SG-CONSENT-1", "the one use went to the real decision"


@pytest.mark.rule("SG-CONSENT-4")
async def test_a_dry_run_sees_a_revocation_at_once(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH")
    assert (await api.decide("CASH", dry_run=True))["decision"] == "permit"
    assert (await api.act(consent["id"], "revoke")).status_code == 200
    decision = await api.decide("CASH", dry_run=True, use_receipt=True)
    assert (decision["decision"], decision["rule_id"], decision["dry_run"]) == ("deny", "SG-CONSENT-4", True)


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_frequency_limits_uses_per_calendar_period(api, clock):
    await api.purpose("CASH")
    await api.granted("CASH", frequency={"unit": "day", "value": 2})
    outcomes = [(await api.decide("CASH"))["decision"] for _ in range(3)]
    assert outcomes == ["permit", "permit", "deny"]
    clock.advance(days=1)
    assert (await api.decide("CASH"))["decision"] == "permit", "a new day, a new allowance"


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_statute_naming_the_requester_permits_without_consent(api):
    statute = {"reference": "Social Protection Act 2024, s. 12", "requesters": [RP]}
    await api.purpose("CASH", statutes=[statute])
    decision = await api.decide("CASH", items=["household_size", "not_allowed_item"])
    assert (decision["decision"], decision["legal_basis"]) == ("permit", "statute")
    assert decision["statute"] == statute["reference"]
    assert decision["covered_items"] == ["household_size"], "the purpose's allowed items only"
    assert (await api.decide("CASH", requester="rp-not-named"))["rule_id"] == "SG-CONSENT-1"


@pytest.mark.rule("SG-XBORDER-1")
async def test_processing_outside_approved_jurisdictions_needs_the_consent_to_name_it(api):
    await api.purpose("CASH")
    await api.granted("CASH")
    assert (await api.decide("CASH", processing_location="XS"))["decision"] == "permit"
    abroad = await api.decide("CASH", processing_location="XX")
    assert (abroad["decision"], abroad["rule_id"]) == ("deny", "SG-XBORDER-1")

    await api.granted("CASH", subject="sub_kofi", jurisdiction=["XS", "XX"], transfer_basis="Adequacy decision 7/2025")
    named = await api.decide("CASH", subject="sub_kofi", processing_location="XX")
    assert named["decision"] == "permit"


@pytest.mark.rule("SG-SEC-1")
async def test_only_the_gateway_asks_for_decisions(api):
    await api.purpose("CASH")
    body = {"requester": RP, "subject": "sub_amara", "purpose": "CASH", "items": ["household_size"]}
    response = await api.call("POST", "/v1/decisions", roles=SUBJECT, subject_ref="sub_amara", json=body)
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"
    unauthenticated = await api.svc.client.post("/v1/decisions", json=body)
    assert unauthenticated.status_code == 401


async def test_a_decision_time_far_from_the_clock_is_refused(api, clock):
    await api.purpose("CASH")
    body = {"requester": RP, "subject": "s", "purpose": "CASH", "items": ["household_size"],
            "at": (clock.now() - timedelta(days=3)).isoformat()}  # fmt: skip
    response = await api.call("POST", "/v1/decisions", roles=("gateway",), json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.rule("SG-CONSENT-1")
async def test_100_concurrent_decisions_against_a_use_count_of_10_permit_exactly_10(api, consent_svc):
    await api.purpose("CASH")
    consent = await api.granted("CASH", use_count=10)

    decisions = await asyncio.gather(*(api.decide("CASH") for _ in range(100)))

    permits = [d for d in decisions if d["decision"] == "permit"]
    assert len(permits) == 10
    assert sorted(d["uses_remaining"] for d in permits) == list(range(10))
    assert {d["rule_id"] for d in decisions if d["decision"] == "deny"} == {"SG-CONSENT-1"}
    stored = (await api.call("GET", f"/v1/consents/{consent['id']}", roles=("relying_party",))).json()
    assert stored["uses"] == 10

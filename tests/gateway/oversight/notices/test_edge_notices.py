"""SG-NOTIFY-1 at the edge, and acceptance 2 through the gateway: every release of a person's data to someone else
becomes a notice in the person's language, sent after the response (the audit log is its source, read by the
notice timer), and every authentication notifies the person (identity does, as it authenticates). Six people, six
languages: one notice each, in the right script and direction; a missing translation falls back visibly."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import regex

from gateway.audit.events import AuditEvent
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.gateway.oversight.rig import inbox
from tests.identity.access_helpers import Enrolled, enrolled

PURPOSE = "KYC_ACCOUNT_OPENING"
SCRIPTS = {
    "ar": r"\p{Arabic}", "zh": r"\p{Han}", "ru": r"\p{Cyrillic}",
    "en": r"\p{Latin}", "fr": r"\p{Latin}", "es": r"\p{Latin}",
}  # fmt: skip


async def _kyc(edge: Edge, person: Enrolled) -> None:
    """The bank, with the person's consent, has identity check an OTP and release their name (SG-CONSENT-1)."""
    await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name", "phone"])
    otp = await edge.otp(person)
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "otp", "otp": otp}}
    response = await edge.client.post(
        "/identity/v1/kyc", json=body, headers=as_caller("bank", **{"X-Purpose": PURPOSE})
    )
    assert response.status_code == 200, response.text


@pytest.mark.rule("SG-NOTIFY-1")
@pytest.mark.rule("SG-GENDER-1")
async def test_one_access_each_notifies_six_people_in_their_own_language_and_script(edge: Edge) -> None:
    people = {language: await enrolled(edge.identity, preferred_language=language) for language in SCRIPTS}
    for person in people.values():
        await _kyc(edge, person)
        assert await inbox(edge, person.sub, "data_access") == [], "the caller did not wait for the notice"
    assert (await edge.app.state.notices.run_once()).sent == 6
    bodies = set()
    for language, person in people.items():
        (notice,) = await inbox(edge, person.sub, "data_access")
        assert (notice["language"], notice["language_fallback"]) == (language, False)
        assert notice["direction"] == ("rtl" if language == "ar" else "ltr")
        assert regex.search(SCRIPTS[language], notice["body"]), f"{language}: {notice['body']!r}"
        # who, what, why and how to complain (when: the time, in UTC)
        assert "rp-bank" in notice["body"] and "full_name" in notice["body"] and PURPOSE in notice["body"]
        assert "/me/grievances" in notice["body"]
        bodies.add(notice["body"])
        (authentication,) = await inbox(edge, person.sub, "access_notice")
        assert authentication["language"] == language, "the authentication itself is notified too, by identity"
    assert len(bodies) == 6
    assert (await edge.app.state.notices.run_once()).sent == 0, "each access is told once"


@pytest.mark.rule("SG-GENDER-1")
@pytest.mark.rule("SG-NOTIFY-1")
async def test_a_missing_translation_falls_back_to_english_visibly(edge: Edge, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from services.identity.notifications import templates

    swahili = await enrolled(edge.identity, preferred_language="sw")  # no catalogue for Swahili
    french = await enrolled(edge.identity, preferred_language="fr")
    monkeypatch.setattr(templates.catalogue("fr"), "_catalog", {})  # as if French had translated nothing yet
    for person in (swahili, french):
        await _kyc(edge, person)
    await edge.app.state.notices.run_once()
    for person in (swahili, french):
        (notice,) = await inbox(edge, person.sub, "data_access")
        assert (notice["language"], notice["language_fallback"]) == ("en", True)
        assert notice["body"].startswith("DPI sandbox: rp-bank received 1 item of your data (full_name)")


@pytest.mark.rule("SG-NOTIFY-1")
@pytest.mark.rule("SG-ACCESS-2")
async def test_a_court_deferred_access_is_told_only_from_its_disclose_after_time(edge: Edge, clock) -> None:  # type: ignore[no-untyped-def]
    person = await enrolled(edge.identity)
    await edge.app.state.audit.append(
        AuditEvent(
            decision="permit", actor="le-police", actor_type="law_enforcement", sub=person.sub,
            action="POST /exchange/v1/fetch", purpose="CRIMINAL_INQUIRY", legal_basis="court_order",
            court_order_id="co-1", fields_returned=("address",), status=200,
            disclose_after=clock.now() + timedelta(days=30),
        )
    )  # fmt: skip
    assert (await edge.app.state.notices.run_once()).sent == 0
    assert await inbox(edge, person.sub, "data_access") == [], "telling now would tip off the investigation"
    clock.advance(timedelta(days=31))
    assert (await edge.app.state.notices.run_once()).sent == 1
    (notice,) = await inbox(edge, person.sub, "data_access")
    assert "le-police" in notice["body"] and "address" in notice["body"]


@pytest.mark.rule("SG-NOTIFY-1")
async def test_what_is_not_a_release_to_someone_else_is_not_notified(edge: Edge) -> None:
    person = await enrolled(edge.identity)
    mine = await edge.client.get("/identity/v1/me/record", headers=as_caller(f"citizen:{person.sub}"))
    assert mine.status_code == 200, mine.text
    refused = await edge.client.post(
        "/identity/v1/kyc",
        json={"individual": {"type": "vid", "value": person.vid}, "factor": {"type": "otp", "otp": "000000"}},
        headers=as_caller("bank", **{"X-Purpose": PURPOSE}),
    )
    assert refused.status_code == 403, "no consent, no release"
    assert (await edge.app.state.notices.run_once()).written == 0
    assert await inbox(edge, person.sub, "data_access") == []


@pytest.mark.rule("SG-NOTIFY-1")
async def test_a_notice_identity_could_not_take_is_sent_on_a_later_round(edge: Edge, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from services.identity.client import IdentityClient

    person = await enrolled(edge.identity)
    await _kyc(edge, person)
    delivered = IdentityClient.send_notice

    async def identity_down(self, sub, notice, *, assertion):  # type: ignore[no-untyped-def]
        raise httpx.ConnectError("identity is restarting")

    monkeypatch.setattr(IdentityClient, "send_notice", identity_down)
    first = await edge.app.state.notices.run_once()
    assert (first.sent, first.retrying) == (0, 1)
    monkeypatch.setattr(IdentityClient, "send_notice", delivered)
    assert (await edge.app.state.notices.run_once()).sent == 1
    assert len(await inbox(edge, person.sub, "data_access")) == 1


@pytest.mark.rule("SG-BREACH-1")
async def test_a_notice_identity_refuses_for_good_is_marked_undeliverable(edge: Edge) -> None:
    unknown = "sub_" + "a" * 26
    body = {
        "organisation": "Bank A", "description": "Leak.", "data_categories": ["phone"],
        "found_at": edge.app.state.clock.now().isoformat(), "affected": [{"type": "sub", "value": unknown}],
    }  # fmt: skip
    incident = (await edge.client.post("/oversight/breaches", json=body, headers=as_caller("oversight"))).json()
    assert (await edge.app.state.notices.run_once()).failed == 1
    read = (await edge.client.get(f"/oversight/breaches/{incident['id']}", headers=as_caller("auditor"))).json()
    assert read["affected"][0]["notice"] == "failed"
    assert (await edge.app.state.notices.run_once()).failed == 0, "not tried again"

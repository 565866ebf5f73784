"""The text-only channel as a person with a basic phone uses it (SG-INCL-3): dial, pick a language, choose, type
the VID and confirm with a PIN or a code by SMS. Each test is a sequence of dial inputs posted as a USSD aggregator
posts them (Africa's Talking's form fields, the whole input so far in `text`), every screen at most 160 characters,
and every audit event saying channel `ussd`. Consent revoke, access log, grievance and correction."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.channels.ussd.models import UssdSession
from services.common.ids import new_id
from tests.gateway.channels.channel_helpers import bank_authenticates
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.identity.access_helpers import Enrolled, latest_otp

PIN = "731904"
AGGREGATOR = "role:text_channel"
ENGLISH, FRENCH, ARABIC, CHINESE = "1", "2", "5", "6"


class Phone:
    """One USSD session: what the aggregator posts on each key press, and what the phone shows."""

    def __init__(self, edge: Edge, caller: str = AGGREGATOR) -> None:
        self.edge = edge
        self.caller = caller
        self.session_id = new_id("ATUid")
        self.inputs: list[str] = []
        self.screens: list[str] = []

    async def post(self) -> Any:
        form = {
            "sessionId": self.session_id,
            "serviceCode": "*384*1#",
            "phoneNumber": "+254700000001",
            "text": "*".join(self.inputs),
        }
        return await self.edge.client.post("/channels/ussd", data=form, headers=as_caller(self.caller))

    async def dial(self, *shortcut: str) -> str:
        self.inputs = list(shortcut)
        return await self._show()

    async def press(self, value: str) -> str:
        self.inputs.append(value)
        return await self._show()

    async def _show(self) -> str:
        response = await self.post()
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        screen: str = response.text
        assert screen.startswith(("CON ", "END ")), screen
        assert len(screen) <= 160, f"{len(screen)} characters: {screen!r}"
        self.screens.append(screen)
        return screen


async def _person_with_pin(edge: Edge) -> Enrolled:
    person = await edge.person()
    response = await edge.identity.as_subject(person.sub, "PUT", "/v1/me/pin", json={"pin": PIN})
    assert response.status_code == 200, response.text
    return person


async def _confirmed_with_pin(phone: Phone, person: Enrolled, language: str, action: str) -> str:
    assert (await phone.dial()).startswith("CON 1 English\n2 Français")
    assert (await phone.press(language)).startswith("CON ")
    await phone.press(action)
    await phone.press(person.vid)
    await phone.press("1")  # my PIN
    return await phone.press(PIN)


def _ussd_events(events: list[dict[str, Any]], sub: str) -> list[dict[str, Any]]:
    return [e for e in events if e["sub"] == sub and e["channel"] == "ussd"]


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-CONSENT-4")
async def test_a_person_revokes_a_consent_by_ussd(edge: Edge) -> None:
    person = await _person_with_pin(edge)
    consent_id = await edge.consent.grant("rp-bank", person.sub, "KYC_ACCOUNT_OPENING", ["full_name"])
    phone = Phone(edge)
    listed = await _confirmed_with_pin(phone, person, ENGLISH, "1")
    assert listed.startswith("CON Your consents:\n1 KYC_ACCOUNT_OPENING rp-bank"), listed
    assert (await phone.press("1")) == ("CON Stop rp-bank using your data for KYC_ACCOUNT_OPENING?\n1 Yes\n2 No")
    done = await phone.press("1")
    assert done == "END Done: rp-bank may no longer use your data for KYC_ACCOUNT_OPENING."
    read = await edge.consent.api.call(
        "GET", f"/v1/me/consents/{consent_id}", roles=("subject",), subject_ref=person.sub
    )
    assert read.json()["status"] == "revoked"
    events = _ussd_events(await edge.audit_events(), person.sub)
    revoke = next(e for e in events if e["action"] == "POST /consent/v1/me/consents/{consent_id}/revoke")
    assert (revoke["decision"], revoke["actor"], revoke["assisted_by"]) == ("permit", "matrix-text_channel", None)
    assert revoke["confirmation"].startswith("pin:")
    confirm = next(e for e in events if e["action"] == "POST /identity/v1/authn")
    assert confirm["decision"] == "permit" and confirm["status"] == 200
    # the session row keeps no secret: the PIN and the VID are only in what the aggregator posts
    async with edge.app.state.engine.connect() as conn:
        stored = (await conn.execute(select(UssdSession))).all()
    assert stored and not any(PIN in str(row) or person.vid in str(row) for row in stored)


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-ACCESS-1")
async def test_a_person_reads_who_used_their_data_by_ussd_in_french_with_a_code_by_sms(edge: Edge) -> None:
    person = await edge.person()
    await bank_authenticates(edge, person)  # an access the person's log then shows
    phone = Phone(edge)
    await phone.dial()
    assert (await phone.press(FRENCH)).startswith("CON Services DPI\n1 Retirer un consentement")
    assert (await phone.press("2")) == "CON Entrez votre VID (16 chiffres)"
    assert (await phone.press(person.vid)).startswith("CON Confirmez que c'est vous")
    asked = await phone.press("2")  # a code by SMS
    assert asked.startswith("CON Entrez le code envoyé au "), asked
    shown = await phone.press(await latest_otp(edge.identity, person.sub))
    assert shown.startswith("END Dernières utilisations de vos données :\n"), shown
    assert "rp-bank identity" in shown
    reading = [e for e in _ussd_events(await edge.audit_events(), person.sub) if e["action"] == "POST /channels/ussd"]
    assert len(reading) == 1
    assert reading[0]["confirmation"].startswith("otp:") and "SG-ACCESS-1" in reading[0]["rule_ids"]


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-ACCESS-1")
async def _accessed_seven_times(edge: Edge, person: Enrolled, clock: Any) -> None:
    for n in range(7):
        if n == 4:
            clock.advance(minutes=61)  # past identity's limit of five codes an hour through one client
        await bank_authenticates(edge, person)


async def test_a_long_access_log_pages_on_with_9_and_shows_every_entry_once(edge: Edge, clock: Any) -> None:
    person = await _person_with_pin(edge)
    await _accessed_seven_times(edge, person, clock)
    phone = Phone(edge)
    screen = await _confirmed_with_pin(phone, person, ENGLISH, "2")
    pages = [screen]
    while screen.startswith("CON "):
        assert screen.endswith("\n9 More"), screen
        screen = await phone.press("9")
        pages.append(screen)
    assert len(pages) >= 2, "seven accesses and more do not fit on one 160-character screen"
    shown = [line for page in pages for line in page.split("\n")[1:] if line != "9 More"]
    assert all(page.split("\n")[0].endswith("Last uses of your data:") for page in pages)
    assert sum("rp-bank identity" in line for line in shown) == 7, "each of the bank's accesses once, none repeated"
    readings = [e for e in _ussd_events(await edge.audit_events(), person.sub) if e["action"] == "POST /channels/ussd"]
    assert len(readings) == len(pages), "each page is read afresh, and each reading recorded"


async def test_anything_but_9_on_an_access_log_page_ends_the_session(edge: Edge, clock: Any) -> None:
    person = await _person_with_pin(edge)
    await _accessed_seven_times(edge, person, clock)
    phone = Phone(edge)
    assert (await _confirmed_with_pin(phone, person, ENGLISH, "2")).endswith("\n9 More")
    assert (await phone.press("1")) == "END Nothing was changed."


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.rule("SG-GRIEV-1")
async def test_a_person_files_a_complaint_by_ussd_in_arabic(edge: Edge) -> None:
    person = await _person_with_pin(edge)
    phone = Phone(edge)
    topics = await _confirmed_with_pin(phone, person, ARABIC, "3")
    assert topics.startswith("CON شكوى بشأن:\n1 هويتي"), topics
    assert (await phone.press("5")) == "CON اكتب بكلمات قليلة ما الذي حدث"
    filed = await phone.press("Refused at the clinic")
    assert filed.startswith("END استلمنا الشكوى grv_"), filed
    found = re.search(r"grv_[0-9a-f]{32}", filed)
    assert found, filed
    ticket_id = found.group(0)
    ticket = await edge.client.get(f"/me/grievances/{ticket_id}", headers=as_caller(f"citizen:{person.sub}"))
    assert ticket.status_code == 200, ticket.text
    assert (ticket.json()["channel"], ticket.json()["category"]) == ("ussd", "exclusion")
    assert ticket.json()["description"] == "Refused at the clinic"
    filing = [e for e in _ussd_events(await edge.audit_events(), person.sub) if "SG-GRIEV-1" in e["rule_ids"]]
    assert len(filing) == 1 and filing[0]["confirmation"].startswith("pin:")


@pytest.mark.rule("SG-INCL-3")
async def test_a_person_asks_for_a_correction_by_ussd_in_chinese(edge: Edge) -> None:
    person = await _person_with_pin(edge)
    phone = Phone(edge)
    fields = await _confirmed_with_pin(phone, person, CHINESE, "4")
    assert fields.startswith("CON 更正哪一项？\n1 名"), fields  # noqa: RUF001 (Chinese punctuation)
    assert (await phone.press("3")) == "CON 请输入正确的内容"
    done = await phone.press("12 Market Road, Eastgate")
    assert done.startswith("END 申请 cor_") or done.startswith("END 申请 "), done
    cases = (await edge.identity.as_subject(person.sub, "GET", "/v1/me/corrections")).json()["items"]
    assert [(c["field"], c["value"], c["channel"]) for c in cases] == [("address", "12 Market Road, Eastgate", "ussd")]
    assert cases[0]["id"] in done
    asked = [e for e in _ussd_events(await edge.audit_events(), person.sub) if "corrections" in e["action"]]
    assert len(asked) == 1 and asked[0]["decision"] == "permit"


@pytest.mark.rule("SG-INCL-3")
async def test_a_wrong_pin_ends_the_session_and_does_nothing(edge: Edge) -> None:
    person = await _person_with_pin(edge)
    consent_id = await edge.consent.grant("rp-bank", person.sub, "KYC_ACCOUNT_OPENING", ["full_name"])
    phone = Phone(edge)
    await phone.dial("1", "1", person.vid, "1")  # a shortcut dial: several inputs in the first callback
    assert phone.screens[-1] == "CON Enter your PIN"
    assert (await phone.press("000000")) == "END Not confirmed. Try again later, or go to an assisted desk."
    assert (await phone.press("1")) == "END Your session timed out. Dial again."  # the session is over
    assert edge.upstream["consent"].count("GET", "/v1/me/consents") == 0
    read = await edge.consent.api.call(
        "GET", f"/v1/me/consents/{consent_id}", roles=("subject",), subject_ref=person.sub
    )
    assert read.json()["status"] == "granted"
    failed = [
        e for e in await edge.audit_events() if e["channel"] == "ussd" and e["action"] == "POST /identity/v1/authn"
    ]
    assert [e["status"] for e in failed] == [401]


@pytest.mark.rule("SG-INCL-3")
async def test_an_idle_session_times_out_on_the_clock(edge: Edge, clock: Any) -> None:
    person = await edge.person()
    phone = Phone(edge)
    await phone.dial()
    await phone.press(ENGLISH)
    assert (await phone.press("2")) == "CON Enter your VID (16 digits)"
    clock.advance(timedelta(seconds=edge.app.state.settings.ussd_session_timeout_seconds + 1))
    assert (await phone.press(person.vid)) == "END Your session timed out. Dial again."
    assert not [e for e in await edge.audit_events() if e["channel"] == "ussd"]
    fresh = Phone(edge)  # dialling again starts a new session
    assert (await fresh.dial()).startswith("CON 1 English")


async def test_only_a_text_channel_client_posts_ussd_steps(edge: Edge) -> None:
    phone = Phone(edge, caller="bank")
    response = await phone.post()
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"
    bad = await edge.client.post("/channels/ussd", data={"text": "1"}, headers=as_caller(AGGREGATOR))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"

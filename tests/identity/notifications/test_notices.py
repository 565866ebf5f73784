"""Notices in the person's language (SG-NOTIFY-1, SG-GENDER-1): one access, one notice per person in each of the six
UN languages, in the right script and direction; a language without a catalogue falls back to English, visibly."""

from __future__ import annotations

import pytest
import regex

from services.identity.notifications.models import MessageKind
from services.identity.notifications.templates import LANGUAGES, Rendered, render
from tests.identity.identity_helpers import GATEWAY, SUBJECT, another_person

SCRIPTS = {
    "ar": r"\p{Arabic}",
    "zh": r"\p{Han}",
    "ru": r"\p{Cyrillic}",
    "en": r"\p{Latin}",
    "fr": r"\p{Latin}",
    "es": r"\p{Latin}",
}
ACCESS = {
    "kind": "data_access",
    "organisation": "Social Registry Agency",
    "items": ["household_size", "income_band", "location"],
    "purpose": "cash-transfer-eligibility",
    "at": "2026-03-01T10:00:00Z",
}


async def _enrolled(api, language: str) -> str:
    person = await api.enrolled(another_person(preferred_language=language))
    return str(person["sub"])


@pytest.mark.rule("SG-NOTIFY-1")
@pytest.mark.rule("SG-GENDER-1")
async def test_one_access_notifies_six_people_each_in_their_own_language(api):
    people = {language: await _enrolled(api, language) for language in LANGUAGES}
    for language, sub in people.items():
        sent = await api.call("POST", f"/v1/subjects/{sub}/notices", roles=GATEWAY, json=ACCESS)
        assert sent.status_code == 201, sent.text
        delivery = sent.json()
        assert (delivery["language"], delivery["language_fallback"]) == (language, False)
        assert delivery["direction"] == ("rtl" if language == "ar" else "ltr")
        assert delivery["channel"] == "sms"
        inbox = await api.call("GET", "/v1/me/notifications", roles=SUBJECT, subject_ref=sub)
        assert inbox.status_code == 200, inbox.text
        (notice,) = [n for n in inbox.json()["items"] if n["kind"] == "data_access"]
        assert notice["language"] == language
        assert notice["direction"] == delivery["direction"]
        text = notice["body"]
        assert regex.search(SCRIPTS[language], text), f"{language}: no {SCRIPTS[language]} letters in {text!r}"
        assert "Social Registry Agency" in text and "household_size, income_band, location" in text
        assert "/me/grievances" in text, "every notice says how to complain"
    texts = {n for n in [await _body(api, sub) for sub in people.values()]}
    assert len(texts) == 6, "six different texts"


async def _body(api, sub):
    inbox = await api.call("GET", "/v1/me/notifications", roles=SUBJECT, subject_ref=sub)
    return inbox.json()["items"][0]["body"]


@pytest.mark.rule("SG-GENDER-1")
async def test_a_language_without_a_catalogue_falls_back_to_english_and_says_so(api):
    sub = await _enrolled(api, "sw")
    delivery = (await api.call("POST", f"/v1/subjects/{sub}/notices", roles=GATEWAY, json=ACCESS)).json()
    assert delivery["language"] == "en"
    assert delivery["language_fallback"] is True
    notice = (await api.call("GET", "/v1/me/notifications", roles=SUBJECT, subject_ref=sub)).json()["items"][0]
    assert notice["language_fallback"] is True
    assert notice["body"].startswith("DPI sandbox:")


def test_an_untranslated_message_falls_back_to_english_visibly(monkeypatch):
    from services.identity.notifications import templates

    french = templates.catalogue("fr")
    monkeypatch.setattr(french, "_catalog", {})  # as if the French catalogue had not translated anything yet
    rendered = render(
        MessageKind.breach, "fr", requester="Bank A", time="2026-03-01 10:00", data="name", grievance="/g"
    )
    assert rendered == Rendered(rendered.text, "en", True, "ltr")
    assert rendered.text.startswith("DPI sandbox: a security incident at Bank A")


@pytest.mark.parametrize(("count", "word"), [(1, "элемент "), (3, "элемента "), (5, "элементов "), (21, "элемент ")])
def test_plural_forms_follow_the_language(count, word):
    values = {"requester": "X", "fields": "a", "purpose": "p", "time": "t", "grievance": "g", "count": str(count)}
    assert f"{count} {word}" in render(MessageKind.data_access, "ru", **values).text


def test_arabic_dual_has_its_own_form():
    values = {"requester": "X", "fields": "a", "purpose": "p", "time": "t", "grievance": "g"}
    two = render(MessageKind.data_access, "ar", **values, count="2").text
    three = render(MessageKind.data_access, "ar", **values, count="3").text
    assert "عنصرين" in two and "3 عناصر" in three


async def test_a_breach_notice_reaches_a_person_who_declined_notices(api):
    sub = str((await api.enrolled(another_person(consents={"biometric": False, "notices": False})))["sub"])
    breach = {"kind": "breach", "organisation": "Bank A", "items": ["name", "phone"], "at": "2026-03-01T10:00:00Z"}
    delivery = (await api.call("POST", f"/v1/subjects/{sub}/notices", roles=GATEWAY, json=breach)).json()
    assert delivery["channel"] == "sms"
    access = (await api.call("POST", f"/v1/subjects/{sub}/notices", roles=GATEWAY, json=ACCESS)).json()
    assert access["channel"] == "app", "no SMS for someone who declined notices, but the app inbox still has it"


async def test_only_the_gateway_may_send_notices(api):
    sub = await _enrolled(api, "en")
    refused = await api.call("POST", f"/v1/subjects/{sub}/notices", roles=("relying_party",), json=ACCESS)
    assert refused.status_code == 403
    assert refused.json()["rule_id"] == "SG-SEC-1"

"""Every USSD screen, in every language, fits one 160-character message without being cut, and every catalogue
translates every screen (a missing one would show in English)."""

from __future__ import annotations

import string

import pytest

from gateway.channels.ussd import texts
from gateway.channels.ussd.texts import LANGUAGES, MAX_CHARACTERS, MESSAGES, Screen, catalogue, lines_within

# The longest values the menu fills in: ids as the services make them, a long purpose code, a 16-character actor.
VALUES = {
    "destination": "+2547*****4567",
    "requester": "rp-social-agency",
    "purpose": "SOCIAL_CASH_TRANSFER_SUPPORT",
    "ticket": "grv_0123456789abcdef0123456789abcdef",
    "case": "cor_0123456789abcdef0123456789abcdef",
    "date": "2026-12-31",
    "reason": "SG-CONSENT-4",
    "grievance": "+000-000-0000",
}


@pytest.mark.rule("SG-INCL-3")
@pytest.mark.parametrize("language", [code for code, _ in LANGUAGES])
def test_every_screen_fits_one_message_in_every_language(language: str) -> None:
    for message in MESSAGES:
        body = texts.text(language, message, **{k: v for k, v in VALUES.items() if "{" + k + "}" in message})
        for end in (False, True):
            shown = str(Screen(body, end))
            assert len(shown) <= MAX_CHARACTERS, (language, len(shown), shown)
            assert not shown.endswith("…"), f"cut: {shown!r}"
    assert len("CON " + texts.LANGUAGE_MENU) <= MAX_CHARACTERS


@pytest.mark.parametrize("language", [code for code, _ in LANGUAGES if code != "en"])
def test_every_catalogue_translates_every_screen(language: str) -> None:
    translations = catalogue(language)
    untranslated = [m for m in MESSAGES if translations.gettext(m) == m]
    assert not untranslated, untranslated
    for message in MESSAGES:  # the same placeholders as the English text
        assert sorted(_fields(translations.gettext(message))) == sorted(_fields(message)), message


def test_a_long_list_is_cut_between_lines_and_a_long_screen_is_cut_visibly() -> None:
    lines = [f"{n} SOCIAL_CASH_TRANSFER_SUPPORT rp-social-agency" for n in range(1, 6)]
    shown = lines_within("Your consents:", lines)
    assert len("CON " + shown) <= MAX_CHARACTERS and shown.endswith("rp-social-agency")
    assert shown.count("\n") < len(lines)
    long = str(Screen("x" * 300, end=True))
    assert len(long) == MAX_CHARACTERS and long.endswith("…")


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]

"""Notices in the person's language (SG-NOTIFY-1, SG-GENDER-1), from gettext message catalogues.

The catalogues are `locale/<lang>/LC_MESSAGES/notices.po`, one per UN language (Arabic, Chinese, English, French,
Russian, Spanish), read with Babel and compiled in memory when first used; plural forms follow each catalogue's
`Plural-Forms` (Russian has three, Arabic six). A language without a catalogue, or a message a catalogue has not
translated yet, falls back to English, and the delivery says so (`language_fallback`): never silently.
Add a language by adding a catalogue (`pybabel init` from the English one) and its code to `LANGUAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.support import Translations

from services.common.i18n import po_catalogue
from services.identity.notifications.models import MessageKind

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
LOCALE_DIR = Path(__file__).with_name("locale")

# The English text of each notice is its message id in the catalogues.
OTP = (
    "DPI sandbox: your one-time code for {requester} is {code}. It expires in {minutes} min. Never give it to "
    "someone who calls you."
)
AUTHENTICATED = (
    "DPI sandbox: {requester} used your identity ({operation}, {factor}) at {time} UTC: {result}. Not you? "
    "Complain: {grievance}"
)
DATA_ACCESS = (
    "DPI sandbox: {requester} received {count} item of your data ({fields}) for {purpose} at {time} UTC. Not you? "
    "Complain: {grievance}",
    "DPI sandbox: {requester} received {count} items of your data ({fields}) for {purpose} at {time} UTC. Not you? "
    "Complain: {grievance}",
)
BREACH = (
    "DPI sandbox: a security incident at {requester} on {time} UTC may have exposed your data ({data}). Get a new "
    "virtual ID in the app or at any registration office. Questions or complaints: {grievance}"
)
GUESS_CEILING = (
    "DPI sandbox: {count} wrong PIN was tried for you. Your PIN is paused until {until} UTC. Sign in with a one-time "
    "code, biometric or at an assisted desk to end the pause. Not you? Complain: {grievance}",
    "DPI sandbox: {count} wrong PINs were tried for you. Your PIN is paused until {until} UTC. Sign in with a one-time "
    "code, biometric or at an assisted desk to end the pause. Not you? Complain: {grievance}",
)
RESULTS = {"success": "succeeded", "failure": "failed"}


@dataclass(frozen=True)
class Rendered:
    text: str
    language: str
    fallback: bool
    direction: str  # "rtl" or "ltr"


def catalogue(language: str) -> Translations:
    return po_catalogue(LOCALE_DIR, language, "notices")


def direction(language: str) -> str:
    return "rtl" if Locale.parse(language).character_order == "right-to-left" else "ltr"


def choose_language(preferred: str | None) -> tuple[str, bool]:
    """The catalogue language for a BCP 47 tag, and whether it fell back to the default."""
    if preferred:
        primary = preferred.replace("_", "-").split("-", 1)[0].casefold()
        if primary in LANGUAGES:
            return primary, False
    return DEFAULT_LANGUAGE, preferred is not None


def _translated(language: str, message: str, plural: str | None = None, count: int = 1) -> tuple[str, bool]:
    """The message in `language`, or in English with fallback=True where the catalogue lacks it."""
    translations = catalogue(language)
    text = translations.ngettext(message, plural, count) if plural else translations.gettext(message)
    english = (plural if count != 1 else message) if plural else message
    if language != DEFAULT_LANGUAGE and text == english:
        return _translated(DEFAULT_LANGUAGE, message, plural, count)[0], True
    return text, False


def render(kind: MessageKind, language: str, **values: str) -> Rendered:
    """A notice of `kind` in `language` (chosen with choose_language), with the values filled in."""
    fallback = False
    if kind is MessageKind.otp:
        text, fallback = _translated(language, OTP)
    elif kind is MessageKind.access_notice:
        result, result_fallback = _translated(language, RESULTS[values["result"]])
        text, fallback = _translated(language, AUTHENTICATED)
        values = {**values, "result": result}
        fallback = fallback or result_fallback
    elif kind is MessageKind.data_access:
        text, fallback = _translated(language, DATA_ACCESS[0], DATA_ACCESS[1], int(values["count"]))
    elif kind is MessageKind.guess_ceiling:
        text, fallback = _translated(language, GUESS_CEILING[0], GUESS_CEILING[1], int(values["count"]))
    else:
        text, fallback = _translated(language, BREACH)
    shown = DEFAULT_LANGUAGE if fallback else language
    return Rendered(text.format(**values), shown, fallback, direction(shown))

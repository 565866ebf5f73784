"""The USSD menu's words, in the six UN languages, from gettext message catalogues.

The catalogues are `locale/<lang>/LC_MESSAGES/ussd.po` (Arabic, Chinese, English, French, Russian, Spanish), read with
Babel and compiled in memory when first used, as the identity service's notices are. The English text of each screen
is its message id. A message a catalogue lacks shows in English: visibly, never a blank screen. Every screen the
person sees is at most `MAX_CHARACTERS` characters, prefix included (`screen` cuts a longer one, and the tests walk
every screen in every language to see none needs cutting).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.support import Translations

from services.common.i18n import po_catalogue

MAX_CHARACTERS = 160
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).with_name("locale")
# The first screen: each language in its own name, in the order the person picks by number.
LANGUAGES = (
    ("en", "English"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ru", "Русский"),
    ("ar", "العربية"),
    ("zh", "中文"),
)
LANGUAGE_MENU = "\n".join(f"{n} {name}" for n, (_, name) in enumerate(LANGUAGES, start=1))

MAIN = "DPI services\n1 Revoke a consent\n2 Who used my data\n3 Make a complaint\n4 Correct my record"
ASK_VID = "Enter your VID (16 digits)"
ASK_METHOD = "Confirm it is you with:\n1 My PIN\n2 A code by SMS"
ASK_PIN = "Enter your PIN"
ASK_CODE = "Enter the code sent to {destination}"
NOT_CONFIRMED = "Not confirmed. Try again later, or go to an assisted desk."
CONSENTS = "Your consents:"
NO_CONSENTS = "You have no active consent."
CONFIRM_REVOKE = "Stop {requester} using your data for {purpose}?\n1 Yes\n2 No"
REVOKED = "Done: {requester} may no longer use your data for {purpose}."
NOTHING_CHANGED = "Nothing was changed."
ACCESS_LOG = "Last uses of your data:"
NO_ACCESS = "Nobody has used your data yet."
MORE = "9 More"
WITHHELD = "{count} more kept from you for now by a court order"
TOPICS = "Complaint about:\n1 My identity\n2 A consent\n3 Use of my data\n4 A payment\n5 Refused a service\n6 Other"
DESCRIBE = "Say in a few words what went wrong"
FILED = "Complaint {ticket} received. Answer by {date}."
FIELDS = "Correct which?\n1 Given name\n2 Family name\n3 Address\n4 Phone\n5 E-mail\n6 Language"
ASK_VALUE = "Enter the correct value"
CORRECTION_FILED = "Request {case} received. Decision by {date}."
INVALID = "That choice is not on the menu. Dial again."
EXPIRED = "Your session timed out. Dial again."
REFUSED = "Not possible: {reason}. Complain: {grievance}"
UNAVAILABLE = "The service is not available. Try again later."

MESSAGES = (
    MAIN, ASK_VID, ASK_METHOD, ASK_PIN, ASK_CODE, NOT_CONFIRMED, CONSENTS, NO_CONSENTS, CONFIRM_REVOKE, REVOKED,
    NOTHING_CHANGED, ACCESS_LOG, NO_ACCESS, MORE, WITHHELD, TOPICS, DESCRIBE, FILED, FIELDS, ASK_VALUE,
    CORRECTION_FILED, INVALID, EXPIRED, REFUSED, UNAVAILABLE,
)  # fmt: skip


def catalogue(language: str) -> Translations:
    return po_catalogue(LOCALE_DIR, language, "ussd")


def text(language: str | None, message: str, **values: str) -> str:
    """`message` in the person's language (English where the catalogue lacks it), with the values filled in."""
    translated = catalogue(language or DEFAULT_LANGUAGE).gettext(message)
    return translated.format(**values) if values else translated


@dataclass(frozen=True)
class Screen:
    """What the person's phone shows: `CON` keeps the session open for an answer, `END` closes it."""

    body: str
    end: bool

    def __str__(self) -> str:
        prefix = "END " if self.end else "CON "
        room = MAX_CHARACTERS - len(prefix)
        body = self.body if len(self.body) <= room else self.body[: room - 1] + "…"
        return prefix + body


def ask(body: str) -> Screen:
    return Screen(body, end=False)


def end(body: str) -> Screen:
    return Screen(body, end=True)


def lines_within(head: str, lines: list[str], *, room: int = MAX_CHARACTERS - 4) -> str:
    """`head` and as many of `lines` (in order) as fit in `room` characters, one per line."""
    shown = head
    for line in lines:
        candidate = f"{shown}\n{line}"
        if len(candidate) > room:
            break
        shown = candidate
    return shown

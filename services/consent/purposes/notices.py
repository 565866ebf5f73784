"""Which language a notice is shown in: the one asked for, or visibly another (never a silent fallback)."""

from __future__ import annotations

from typing import Any

from services.consent.vocabulary import FALLBACK_ORDER, Language

_LANGUAGES = {language.value for language in Language}


def accepted_languages(header: str | None) -> list[str]:
    """Primary language subtags of an Accept-Language header, best first (q=0 entries dropped)."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary and primary != "*" and quality > 0 and primary.isascii() and primary.isalpha() and len(primary) <= 8:
            ranked.append((-quality, position, primary))
    return [primary for _, _, primary in sorted(ranked)]


def requested_language(language: Language | None, accept_language: str | None) -> tuple[str, list[str]]:
    """The language asked for, and the caller's further preferences in order."""
    if language is not None:
        return language.value, []
    preferences = accepted_languages(accept_language)
    if not preferences:
        return Language.en.value, []
    return preferences[0], preferences[1:]


def notice(texts: dict[str, Any], requested: str, preferences: list[str] | None = None) -> dict[str, Any]:
    """The text in `requested`, else the caller's next UN language that has one, else the first in FALLBACK_ORDER."""
    order = [requested, *(preferences or []), *(language.value for language in FALLBACK_ORDER)]
    chosen = next(code for code in order if code in _LANGUAGES and code in texts)
    text = texts[chosen]
    return {
        "language": chosen,
        "requested_language": requested,
        "fell_back": chosen != requested,
        "title": text["title"],
        "description": text["description"],
    }

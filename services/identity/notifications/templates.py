"""Message templates per language (SG-GENDER-1: notices in the person's language, with a reported fallback).

Plain words, no jargon, short enough for one SMS. Add a language by adding one entry to each table.
"""

from __future__ import annotations

from services.identity.notifications.models import MessageKind

DEFAULT_LANGUAGE = "en"

TEMPLATES: dict[MessageKind, dict[str, str]] = {
    MessageKind.otp: {
        "en": "DPI sandbox: your one-time code for {requester} is {code}. It expires in {minutes} min. "
        "Never give it to someone who calls you.",
        "fr": "Bac à sable DPI : votre code à usage unique pour {requester} est {code}. Il expire dans {minutes} "
        "min. Ne le donnez jamais à quelqu'un qui vous appelle.",
        "es": "Entorno DPI: su código de un solo uso para {requester} es {code}. Caduca en {minutes} min. "
        "Nunca lo dé a quien le llame.",
    },
    MessageKind.access_notice: {
        "en": "DPI sandbox: {requester} used your identity ({operation}, {factor}) at {time} UTC: {result}. "
        "Not you? Complain: {grievance}",
        "fr": "Bac à sable DPI : {requester} a utilisé votre identité ({operation}, {factor}) le {time} UTC : "
        "{result}. Pas vous ? Réclamez : {grievance}",
        "es": "Entorno DPI: {requester} usó su identidad ({operation}, {factor}) el {time} UTC: {result}. "
        "¿No fue usted? Reclame: {grievance}",
    },
    MessageKind.guess_ceiling: {
        "en": "DPI sandbox: {count} wrong PINs were tried for you. Your PIN is paused until {until} UTC. Sign in "
        "with a one-time code, biometric or at an assisted desk to end the pause. Not you? Complain: {grievance}",
        "fr": "Bac à sable DPI : {count} PIN erronés ont été essayés pour vous. Votre PIN est suspendu jusqu'au "
        "{until} UTC. Connectez-vous par code à usage unique, biométrie ou au guichet assisté pour lever la "
        "suspension. Pas vous ? Réclamez : {grievance}",
        "es": "Entorno DPI: se probaron {count} PIN erróneos para usted. Su PIN está en pausa hasta el {until} "
        "UTC. Entre con un código de un solo uso, biometría o en un puesto asistido para terminar la pausa. ¿No "
        "fue usted? Reclame: {grievance}",
    },
}

RESULT_WORDS: dict[str, dict[str, str]] = {
    "en": {"success": "succeeded", "failure": "failed"},
    "fr": {"success": "réussi", "failure": "échoué"},
    "es": {"success": "correcto", "failure": "fallido"},
}


def choose_language(preferred: str | None) -> tuple[str, bool]:
    """The template language for a BCP 47 tag, and whether it fell back to the default."""
    if preferred:
        primary = preferred.split("-", 1)[0].casefold()
        if primary in TEMPLATES[MessageKind.otp]:
            return primary, False
    return DEFAULT_LANGUAGE, preferred is not None


def render(kind: MessageKind, language: str, **values: str) -> str:
    return TEMPLATES[kind][language].format(**values)

"""The request context a caller states in headers (purpose, legal basis, consent, channel, assisted-by, court order,
the person the request is about), parsed once and validated before any rule looks at it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

from starlette.datastructures import Headers

from services.common.assertion import Channel, LegalBasis
from services.common.problems import InvalidInput

PURPOSE_HEADER = "X-Purpose"
LEGAL_BASIS_HEADER = "X-Legal-Basis"
CONSENT_HEADER = "X-Consent-Id"
CHANNEL_HEADER = "X-Channel"
ASSISTED_BY_HEADER = "X-Assisted-By"
COURT_ORDER_HEADER = "X-Court-Order"
SUBJECT_HEADER = "X-Subject"
CONTEXT_HEADERS = (
    PURPOSE_HEADER,
    LEGAL_BASIS_HEADER,
    CONSENT_HEADER,
    CHANNEL_HEADER,
    ASSISTED_BY_HEADER,
    COURT_ORDER_HEADER,
    SUBJECT_HEADER,
)

# What a caller may state: internal channels and bases ("internal", "none", "contract") are the gateway's own.
CALLER_CHANNELS = tuple(c for c in get_args(Channel) if c != "internal")
CALLER_LEGAL_BASES = ("consent", "statute", "court_order")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,63}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True)
class RequestContext:
    purpose: str | None = None
    legal_basis: LegalBasis | None = None
    consent_id: str | None = None
    channel: Channel = "web"
    assisted_by: str | None = None
    court_order: str | None = None
    subject: str | None = None
    # Set by the gateway only (gateway/channels), never from a header: how the person confirmed an action taken for
    # them on the assisted or the text-only channel (the factor and identity's auth transaction id).
    confirmation: str | None = None

    @classmethod
    def from_values(cls, values: dict[str, str | None]) -> RequestContext:
        """Validate stated values (headers or a dry-run body); anything malformed is 422, never a guess."""
        purpose = values.get("purpose")
        if purpose is not None and not _CODE.match(purpose):
            raise _invalid(PURPOSE_HEADER, "a purpose code from the registry (letters, digits, underscores)")
        basis = values.get("legal_basis")
        if basis is not None and basis not in CALLER_LEGAL_BASES:
            raise _invalid(LEGAL_BASIS_HEADER, f"one of {', '.join(CALLER_LEGAL_BASES)}")
        channel = values.get("channel") or "web"
        if channel not in CALLER_CHANNELS:
            raise _invalid(CHANNEL_HEADER, f"one of {', '.join(CALLER_CHANNELS)}")
        for name, header in (
            ("consent_id", CONSENT_HEADER),
            ("assisted_by", ASSISTED_BY_HEADER),
            ("court_order", COURT_ORDER_HEADER),
            ("subject", SUBJECT_HEADER),
        ):
            value = values.get(name)
            if value is not None and not _REFERENCE.match(value):
                raise _invalid(header, "1 to 100 letters, digits or ._:-")
        return cls(
            purpose=purpose,
            legal_basis=basis,  # type: ignore[arg-type]
            consent_id=values.get("consent_id"),
            channel=channel,  # type: ignore[arg-type]
            assisted_by=values.get("assisted_by"),
            court_order=values.get("court_order"),
            subject=values.get("subject"),
        )

    @classmethod
    def from_headers(cls, headers: Headers) -> RequestContext:
        return cls.from_values(
            {
                "purpose": headers.get(PURPOSE_HEADER),
                "legal_basis": headers.get(LEGAL_BASIS_HEADER),
                "consent_id": headers.get(CONSENT_HEADER),
                "channel": headers.get(CHANNEL_HEADER),
                "assisted_by": headers.get(ASSISTED_BY_HEADER),
                "court_order": headers.get(COURT_ORDER_HEADER),
                "subject": headers.get(SUBJECT_HEADER),
            }
        )


def _invalid(header: str, expected: str) -> InvalidInput:
    return InvalidInput(f"The {header} header must be {expected}.", header=header)

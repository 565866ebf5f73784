"""One-time codes: issuing a code to the person's phone or e-mail, bound to a client and scope, within the send
limits per client and per person. Never commits."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.ids import new_id
from services.identity.authn.errors import (
    NON_BIOMETRIC_ALTERNATIVES,
    OtpChannelUnavailable,
    OtpSendLimited,
)
from services.identity.authn.models import (
    ChallengeStatus,
    OtpChallenge,
)
from services.identity.authn.repository import AuthnRepository
from services.identity.authn.schemas import (
    OtpRequested,
)
from services.identity.deps import Runtime
from services.identity.notifications.service import notification as notification_service
from services.identity.persons.models import Person
from services.identity.persons.repository import PersonRepository

log = structlog.get_logger(__name__)

AUTHN_SCOPE = "authn"
OTP_DIGITS = 6


def otp_hash(rt: Runtime, challenge_id: str, code: str) -> str:
    message = b"otp\x00" + challenge_id.encode() + b"\x00" + code.encode()
    return hmac.new(rt.keyring.otp_key, message, hashlib.sha256).hexdigest()


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from `now` until `moment`, at least 1 (a Retry-After value)."""
    return max(1, math.ceil((moment - now).total_seconds()))


async def send_otp(
    session: AsyncSession, person: Person, *, client_id: str, scope: str, requester: str, rt: Runtime
) -> OtpRequested:
    """Issue a fresh code (voiding older ones for the same client and scope) and deliver it, within the send
    limits per client and per person (429 with Retry-After beyond them)."""
    now = rt.clock.now()
    repository = AuthnRepository.from_session(session)
    await _within_send_limits(session, person, client_id=client_id, now=now, rt=rt)
    await repository.supersede_challenges(person.id, client_id, scope, now)
    challenge_id = new_id("otp")
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    delivery = await notification_service.send_otp(session, person, code=code, requester=requester, rt=rt)
    if delivery is None:
        raise OtpChannelUnavailable(
            "There is no phone number or e-mail address on record; use another way to authenticate, or ask a "
            "registrar to add one.",
            alternatives=[a for a in (*NON_BIOMETRIC_ALTERNATIVES, "biometric") if a != "otp"],
        )
    expires_at = now + timedelta(seconds=rt.settings.otp_ttl_seconds)
    session.add(
        OtpChallenge(
            id=challenge_id,
            person_id=person.id,
            client_id=client_id,
            scope=scope,
            code_hash=otp_hash(rt, challenge_id, code),
            channel=delivery.channel,
            status=ChallengeStatus.active,
            attempts=0,
            max_attempts=rt.settings.otp_max_attempts,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    log.info("identity.authn.otp_sent", otp_request_id=challenge_id, person_id=person.id)
    return OtpRequested(
        otp_request_id=challenge_id,
        channel=delivery.channel,
        destination=delivery.destination,
        expires_at=expires_at,
        max_attempts=rt.settings.otp_max_attempts,
    )


async def _within_send_limits(
    session: AsyncSession, person: Person, *, client_id: str, now: datetime, rt: Runtime
) -> None:
    """Count and send in one serialised step per person (the person's row is held until the transaction ends),
    so parallel requests and replicas cannot each see room for one more code."""
    await PersonRepository.from_session(session).lock(person.id)
    repository = AuthnRepository.from_session(session)
    window = timedelta(seconds=rt.settings.otp_send_window_seconds)
    since = now - window
    limits = (
        ("client", client_id, rt.settings.otp_max_sends_per_client),
        ("person", None, rt.settings.otp_max_sends_per_person),
    )
    for scope, client, limit in limits:
        sent, oldest = await repository.otp_sends_since(person.id, since, client_id=client)
        if sent >= limit:
            retry_after = seconds_until((oldest or now) + window, now)
            who = "this client" if client is not None else "all clients together"
            log.info("identity.authn.otp_send_limited", person_id=person.id, client_id=client_id, limit=scope)
            raise OtpSendLimited(
                f"{sent} one-time codes were sent to this person through {who} in the last "
                f"{rt.settings.otp_send_window_seconds // 60} minutes: try again in {retry_after} s, or use "
                "another way to authenticate.",
                retry_after=retry_after,
                scope=scope,
            )

"""Checking one factor (OTP, PIN, biometric, offline QR, an assisted operator's confirmation) against the person's
enrolled data, with the locks, pauses and ceilings that bound guessing. Never commits: a failed check is a `Check`,
which the caller records before it raises the refusal.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.keys import SigningKey
from services.common.problems import ProblemError
from services.identity.authn.errors import (
    AuthenticationFailed,
    BiometricUseAlternative,
    PinCeilingReached,
    PinPaused,
)
from services.identity.authn.models import (
    ChallengeStatus,
    Factor,
    PersonFactor,
)
from services.identity.authn.otp import AUTHN_SCOPE, otp_hash, seconds_until
from services.identity.authn.repository import AuthnRepository
from services.identity.authn.schemas import (
    AnyFactor,
    AssistedFactor,
    BiometricFactor,
    OfflineQrFactor,
    OtpFactor,
    PinFactor,
)
from services.identity.credentials.offline import (
    OFFLINE_VERIFIER_ID,
    InvalidCredential,
    status_entry,
    verify_offline_qr,
)
from services.identity.credentials.service import offline_credential as offline_credential_service
from services.identity.deps import Runtime
from services.identity.notifications.service import notification as notification_service
from services.identity.persons.models import Person
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)

# Argon2id with the library's RFC 9106 low-memory profile; the input is already a keyed HMAC of the PIN.
_pin_hasher = PasswordHasher()


@dataclass(frozen=True)
class Check:
    """The outcome of checking one factor; on failure a stable reason code and what to tell the caller."""

    ok: bool
    reason: str | None = None
    detail: str = ""
    error: ProblemError | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    def refusal(self, factor: Factor) -> ProblemError:
        """The failure to raise once the attempt is recorded: answered after the transaction commits."""
        if self.error is not None:
            return self.error.after_commit()
        reason = self.reason or "failed"
        return AuthenticationFailed(self.detail, factor=factor.value, reason=reason, **self.extensions).after_commit()


def _pin_input(rt: Runtime, person_id: str, pin: str) -> str:
    message = b"pin\x00" + person_id.encode() + b"\x00" + pin.encode()
    return hmac.new(rt.keyring.otp_key, message, hashlib.sha256).hexdigest()


def _verify_pin_hash(pin_hash: str, pin_input: str) -> bool:
    try:
        return _pin_hasher.verify(pin_hash, pin_input)
    except (VerificationError, InvalidHashError):
        return False


async def new_pin_hash(rt: Runtime, person_id: str, pin: str) -> str:
    """The Argon2id hash to store for `pin` (of a keyed HMAC of it), computed off the event loop."""
    return await asyncio.to_thread(_pin_hasher.hash, _pin_input(rt, person_id, pin))


class FactorChecks:
    async def check_factor(
        self,
        session: AsyncSession,
        person: Person,
        factor: AnyFactor,
        *,
        client_id: str,
        scope: str,
        rt: Runtime,
        signing_key: SigningKey,
    ) -> Check:
        """Check one factor against the person's enrolled data; OTP codes must come from `client_id` and `scope`."""
        if locked := self._locked(person, Factor(factor.type)):
            return locked
        if isinstance(factor, OtpFactor):
            return await self._check_otp(session, person, factor.otp, client_id=client_id, scope=scope, rt=rt)
        if isinstance(factor, PinFactor):
            return await self._check_pin(session, person, factor.pin, client_id=client_id, rt=rt)
        if isinstance(factor, BiometricFactor):
            return await self._check_biometric(session, person, factor.template, rt=rt)
        if isinstance(factor, OfflineQrFactor):
            return await self._check_offline_qr(session, person, factor.qr_payload, rt=rt, signing_key=signing_key)
        assert isinstance(factor, AssistedFactor) and factor.confirmation is not None  # admit saw to both
        check = await self.check_confirmation(session, person, factor.confirmation, client_id=client_id, rt=rt)
        if check.ok or check.error is not None:
            return check
        return Check(False, f"assisted.{check.reason}", check.detail, extensions=check.extensions)

    async def check_confirmation(
        self, session: AsyncSession, person: Person, factor: OtpFactor | PinFactor, *, client_id: str, rt: Runtime
    ) -> Check:
        if locked := self._locked(person, Factor(factor.type)):
            return locked
        if isinstance(factor, OtpFactor):
            return await self._check_otp(session, person, factor.otp, client_id=client_id, scope=AUTHN_SCOPE, rt=rt)
        return await self._check_pin(session, person, factor.pin, client_id=client_id, rt=rt)

    @staticmethod
    def _locked(person: Person, factor: Factor) -> Check | None:
        """The refusal for a factor the person locked, naming the ways they left open; None if it is open."""
        locked = set(person.locked_factors or ())
        if factor.value not in locked:
            return None
        return Check(
            False,
            f"{factor.value}.locked",
            "The person has locked this way of authenticating. Use another way; they can unlock it in their app.",
            extensions={"alternatives": [f.value for f in PersonFactor if f.value not in locked]},
        )

    async def _check_otp(
        self, session: AsyncSession, person: Person, code: str, *, client_id: str, scope: str, rt: Runtime
    ) -> Check:
        now = rt.clock.now()
        challenge = await AuthnRepository.from_session(session).active_challenge(person.id, client_id, scope)
        if challenge is None:
            return Check(
                False, "otp.none_active", "There is no live one-time code for this request: ask for a new one."
            )
        if challenge.expires_at <= now:
            challenge.status, challenge.closed_at = ChallengeStatus.expired, now
            return Check(False, "otp.expired", "The one-time code has expired: ask for a new one.")
        if hmac.compare_digest(challenge.code_hash, otp_hash(rt, challenge.id, code)):
            challenge.status, challenge.closed_at = ChallengeStatus.used, now
            return Check(True)
        challenge.attempts += 1
        remaining = challenge.max_attempts - challenge.attempts
        if remaining <= 0:
            challenge.status, challenge.closed_at = ChallengeStatus.exhausted, now
            return Check(False, "otp.exhausted", "Wrong code, and that was its last try: ask for a new one.")
        return Check(False, "otp.mismatch", "Wrong code.", extensions={"attempts_remaining": remaining})

    async def _check_pin(
        self, session: AsyncSession, person: Person, pin: str, *, client_id: str, rt: Runtime
    ) -> Check:
        # Count and check in one serialised step: the person's row is held until this attempt is recorded and
        # committed, so parallel guesses (and replicas) are checked one at a time against the limits.
        await PersonRepository.from_session(session).lock(person.id)
        repository = AuthnRepository.from_session(session)
        # Counted per client: otherwise anyone able to name the person could pause their PIN everywhere with
        # wrong guesses. A success that proves the person now ends every client's run of failures.
        failures = await repository.failures_at_client_since_last_success(person.id, Factor.pin, client_id)
        if failures >= rt.settings.pin_max_consecutive_failures:
            # Not checked at all while paused, so the pause cannot be used to keep guessing.
            return Check(
                False,
                "pin.paused",
                error=PinPaused(
                    f"{failures} wrong PINs in a row through {client_id}: the PIN works here again once you have "
                    "authenticated successfully anywhere, in any way. Elsewhere it still works."
                ),
            )
        if ceiling := await self._pin_ceiling(session, person, rt=rt):
            return ceiling
        credential = await repository.pin(person.id)
        if credential is None:
            return Check(
                False,
                "pin.not_set",
                "No PIN is set: use another way, or set one at PUT /v1/me/pin.",
                extensions={"alternatives": ["otp", "offline_qr", "assisted", "biometric"]},
            )
        pin_input = _pin_input(rt, person.id, pin)
        if not await asyncio.to_thread(_verify_pin_hash, credential.pin_hash, pin_input):
            await self._tell_if_ceiling_reached(session, person, rt=rt)
            return Check(False, "pin.mismatch", "Wrong PIN.")
        if _pin_hasher.check_needs_rehash(credential.pin_hash):
            credential.pin_hash = await asyncio.to_thread(_pin_hasher.hash, pin_input)
        return Check(True)

    async def _pin_ceiling(self, session: AsyncSession, person: Person, *, rt: Runtime) -> Check | None:
        """The refusal once the person's PIN has met its ceiling of guesses through all clients within the window
        (unchecked, so not a guess); None while there is room."""
        now = rt.clock.now()
        window = timedelta(seconds=rt.settings.pin_failure_window_seconds)
        repository = AuthnRepository.from_session(session)
        failures, oldest = await repository.failures_in_window(person.id, Factor.pin, now - window)
        if failures < rt.settings.pin_max_failures_per_window:
            return None
        retry_after = seconds_until((oldest or now) + window, now)
        error = PinCeilingReached(
            f"{failures} wrong PINs for this person through all clients within "
            f"{rt.settings.pin_failure_window_seconds // 3600 or 1} h: the PIN is paused everywhere for "
            f"{retry_after} s. A one-time code, a biometric or an assisted operator still work, and a success with "
            "one of them ends the pause.",
            retry_after=retry_after,
        )
        return Check(False, "pin.ceiling", error=error)

    async def _tell_if_ceiling_reached(self, session: AsyncSession, person: Person, *, rt: Runtime) -> None:
        """After a wrong PIN: if it was the guess that met the ceiling, tell the person (once per pause)."""
        now = rt.clock.now()
        window = timedelta(seconds=rt.settings.pin_failure_window_seconds)
        repository = AuthnRepository.from_session(session)
        failures, oldest = await repository.failures_in_window(person.id, Factor.pin, now - window)
        if failures + 1 == rt.settings.pin_max_failures_per_window:  # this failure is recorded after the check
            until = (oldest or now) + window
            await notification_service.send_guess_ceiling(session, person, count=failures + 1, until=until, rt=rt)
            log.info("identity.authn.pin_ceiling_reached", person_id=person.id)

    async def _check_biometric(self, session: AsyncSession, person: Person, template: str, *, rt: Runtime) -> Check:
        if person.biometric_hash is None:
            reason, detail = "biometric.not_enrolled", "No biometric is enrolled for this person (it needs consent)."
        elif hmac.compare_digest(rt.keyring.fingerprint("biometric", template), person.biometric_hash):
            return Check(True)
        else:
            reason, detail = "biometric.mismatch", "The biometric did not match."
        failures = await AuthnRepository.from_session(session).failures_since_last_success(person.id, Factor.biometric)
        consecutive = failures + 1
        if reason == "biometric.not_enrolled" or consecutive >= rt.settings.biometric_failure_threshold:
            # SG-INCL-2: point to the other ways in; nothing is locked, a biometric retry stays possible too.
            error = BiometricUseAlternative(
                f"{detail} Please authenticate with a one-time code, a PIN, your offline QR credential or an "
                "assisted operator.",
                reason=reason,
                consecutive_failures=consecutive,
            )
            return Check(False, reason, detail, error=error)
        return Check(
            False, reason, f"{detail} Try again, or use another way.", extensions={"consecutive_failures": consecutive}
        )

    async def _check_offline_qr(
        self, session: AsyncSession, person: Person, payload: str, *, rt: Runtime, signing_key: SigningKey
    ) -> Check:
        try:
            claims = verify_offline_qr(payload, signing_key.jwks(), now=rt.clock.now())
        except InvalidCredential as error:
            return Check(False, "offline_qr.invalid", f"The offline credential is not valid: {error.reason}.")
        uin = await person_service.uin_of(session, person, rt=rt)
        expected = rt.keyring.pairwise_token(OFFLINE_VERIFIER_ID, uin)
        presented = claims.get("sub")
        if not isinstance(presented, str) or not hmac.compare_digest(presented, expected):
            return Check(False, "offline_qr.other_person", "The offline credential belongs to someone else.")
        # Online, the service's own record is fresher than any status list a verifier holds.
        entry = status_entry(claims)
        if entry is None or await offline_credential_service.is_revoked(session, person, entry[0]):
            return Check(False, "offline_qr.revoked", "The offline credential was revoked: ask for a new one.")
        return Check(True)


factors = FactorChecks()

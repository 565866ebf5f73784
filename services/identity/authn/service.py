"""Authentication: who the person is, whether the factor matches, and a record of every attempt. Never commits.

A failed factor is raised marked `after_commit()` (services.common.problems): the attempt, the spent OTP guess and
the outbox event must be committed even though the answer is a 401, and the session dependency commits them first.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.db import table_of
from services.common.ids import new_id
from services.common.keys import SigningKey
from services.common.paging import PageRequest
from services.common.problems import PolicyDenied, ProblemError
from services.identity.authn.errors import (
    NON_BIOMETRIC_ALTERNATIVES,
    AuthenticationFailed,
    BiometricUseAlternative,
    IndividualMismatch,
    IndividualRequired,
    LastOwnFactor,
    OtpChannelUnavailable,
    OtpSendLimited,
    PinCeilingReached,
    PinPaused,
    PinProofRequired,
)
from services.identity.authn.models import (
    AuthEvent,
    ChallengeStatus,
    Factor,
    Operation,
    OtpChallenge,
    PersonFactor,
    PinCredential,
    Result,
)
from services.identity.authn.repository import AuthnRepository
from services.identity.authn.schemas import (
    AnyFactor,
    AssistedFactor,
    AuthEventRead,
    AuthHistoryPage,
    AuthnRequest,
    AuthnResult,
    BiometricFactor,
    FactorLockList,
    FactorLockSet,
    FactorLockState,
    Individual,
    IndividualType,
    OfflineQrFactor,
    OtpFactor,
    OtpRequest,
    OtpRequested,
    PinFactor,
    PinSet,
    PinStatus,
    Predicate,
    PredicateRequest,
    PredicateResult,
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
from services.identity.persons.models import Person, PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service
from services.identity.tokens.errors import ReferenceNotResolved
from services.identity.tokens.schemas import PairwiseTokenRequest, ReferenceType, SubjectReference
from services.identity.tokens.service import token as token_service

log = structlog.get_logger(__name__)

AUTHN_SCOPE = "authn"
OTP_DIGITS = 6
RESIDENT_STATUSES = frozenset({"citizen", "resident"})
NAMING_ROLES = ("relying_party", "registrar", "assisted_operator")
OWN_APP_FACTORS = frozenset({Factor.otp.value, Factor.pin.value})

# Argon2id with the library's RFC 9106 low-memory profile; the input is already a keyed HMAC of the PIN.
_pin_hasher = PasswordHasher()

_INSERT_AUTH_EVENT = insert(table_of(AuthEvent))

_EVENT_SUBJECTS = {
    Operation.kyc: "identity.kyc.released",
    Operation.userinfo: "identity.oidc.userinfo_released",
}


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


def otp_hash(rt: Runtime, challenge_id: str, code: str) -> str:
    message = b"otp\x00" + challenge_id.encode() + b"\x00" + code.encode()
    return hmac.new(rt.keyring.otp_key, message, hashlib.sha256).hexdigest()


def _pin_input(rt: Runtime, person_id: str, pin: str) -> str:
    message = b"pin\x00" + person_id.encode() + b"\x00" + pin.encode()
    return hmac.new(rt.keyring.otp_key, message, hashlib.sha256).hexdigest()


def _verify_pin_hash(pin_hash: str, pin_input: str) -> bool:
    try:
        return _pin_hasher.verify(pin_hash, pin_input)
    except (VerificationError, InvalidHashError):
        return False


def _seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from `now` until `moment`, at least 1 (a Retry-After value)."""
    return max(1, math.ceil((moment - now).total_seconds()))


def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, month=3, day=1)


@dataclass(frozen=True)
class RecordedAuthEvent:
    """What callers of `record` use of the history entry just written (not an ORM object: none is needed)."""

    id: str
    occurred_at: datetime
    reason: str | None
    attributes: list[str]


class AuthnService:
    async def identify(
        self, session: AsyncSession, caller: Caller, individual: Individual | None, *, rt: Runtime
    ) -> Person:
        """The person behind the assertion's `sub`, or behind a VID/UIN that a relying party or registrar names."""
        named: Person | None = None
        if individual is not None:
            if not caller.has_role(*NAMING_ROLES):
                raise PolicyDenied(
                    "SG-SEC-1",
                    "Only relying parties, registrars and assisted operators name an individual; a subject "
                    "authenticates as themselves.",
                )
            named = await self.person_of(session, caller, individual, rt=rt)
        if caller.subject_ref is not None:
            resolved = await person_service.get_active_by_sub(session, caller.subject_ref)
            if named is not None and named.id != resolved.id:
                raise IndividualMismatch("The individual named in the body is not the subject of this request.")
            return resolved
        if named is None:
            raise IndividualRequired("Name the individual (a VID, or a UIN for registrars) in `individual`.")
        return named

    async def request_otp(
        self, session: AsyncSession, caller: Caller, body: OtpRequest, *, rt: Runtime
    ) -> OtpRequested:
        """Send a one-time code to the person's phone (or e-mail), bound to the requesting client."""
        person = await self.identify(session, caller, body.individual, rt=rt)
        return await self.send_otp(
            session, person, client_id=caller.client_id, scope=AUTHN_SCOPE, requester=caller.client_id, rt=rt
        )

    async def send_otp(
        self, session: AsyncSession, person: Person, *, client_id: str, scope: str, requester: str, rt: Runtime
    ) -> OtpRequested:
        """Issue a fresh code (voiding older ones for the same client and scope) and deliver it, within the send
        limits per client and per person (429 with Retry-After beyond them)."""
        now = rt.clock.now()
        repository = AuthnRepository.from_session(session)
        await self._within_send_limits(session, person, client_id=client_id, now=now, rt=rt)
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

    @staticmethod
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
                retry_after = _seconds_until((oldest or now) + window, now)
                who = "this client" if client is not None else "all clients together"
                log.info("identity.authn.otp_send_limited", person_id=person.id, client_id=client_id, limit=scope)
                raise OtpSendLimited(
                    f"{sent} one-time codes were sent to this person through {who} in the last "
                    f"{rt.settings.otp_send_window_seconds // 60} minutes: try again in {retry_after} s, or use "
                    "another way to authenticate.",
                    retry_after=retry_after,
                    scope=scope,
                )

    async def authenticate(
        self, session: AsyncSession, caller: Caller, body: AuthnRequest, *, rt: Runtime, signing_key: SigningKey
    ) -> AuthnResult:
        """Yes/no: does the factor authenticate the person? Never any attribute of theirs (SG-MIN-2)."""
        factor = Factor(body.factor.type)
        self.admit(caller, body.factor)
        person = await self.identify(session, caller, body.individual, rt=rt)
        check = await self.check_factor(
            session, person, body.factor, client_id=caller.client_id, scope=AUTHN_SCOPE, rt=rt, signing_key=signing_key
        )
        event = await self.record(session, caller, person, operation=Operation.authn, factor=factor, check=check, rt=rt)
        if not check.ok:
            raise check.refusal(factor)
        return AuthnResult(
            authenticated=True,
            factor=factor,
            transaction_id=event.id,
            auth_time=event.occurred_at,
            subject_token=await self._subject_token(session, caller, person, rt=rt),
        )

    async def check_predicates(
        self, session: AsyncSession, caller: Caller, body: PredicateRequest, *, rt: Runtime, signing_key: SigningKey
    ) -> PredicateResult:
        """Authenticate the person, then answer each predicate as a boolean computed from their record."""
        factor = Factor(body.factor.type)
        self.admit(caller, body.factor)
        person = await self.identify(session, caller, body.individual, rt=rt)
        check = await self.check_factor(
            session, person, body.factor, client_id=caller.client_id, scope=AUTHN_SCOPE, rt=rt, signing_key=signing_key
        )
        asked = list(dict.fromkeys(body.predicates))
        event = await self.record(
            session,
            caller,
            person,
            operation=Operation.predicates,
            factor=factor,
            check=check,
            attributes=[p.value for p in asked],
            rt=rt,
        )
        if not check.ok:
            raise check.refusal(factor)
        values = await person_service.read_attributes(session, person.id, rt=rt)
        today = rt.clock.now().date()
        answers = {predicate: self._predicate(predicate, values, today) for predicate in asked}
        return PredicateResult(
            authenticated=True, factor=factor, transaction_id=event.id, auth_time=event.occurred_at, predicates=answers
        )

    async def set_pin(self, session: AsyncSession, caller: Caller, body: PinSet, *, rt: Runtime) -> PinStatus:
        """Set the caller's PIN; replacing one needs the current PIN or a fresh OTP (a forgotten PIN)."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        repository = AuthnRepository.from_session(session)
        existing = await repository.pin(person.id)
        if existing is not None:
            proof: OtpFactor | PinFactor
            if body.current_pin is not None:
                proof = PinFactor(type="pin", pin=body.current_pin)
            elif body.otp is not None:
                proof = OtpFactor(type="otp", otp=body.otp)
            else:
                raise PinProofRequired(
                    "A PIN is already set: give `current_pin`, or request an OTP and give `otp`.",
                    factor=Factor.pin.value,
                    reason="pin.proof_required",
                )
            check = await self._check_confirmation(session, person, proof, client_id=caller.client_id, rt=rt)
            factor = Factor(proof.type)
            await self.record(
                session, caller, person, operation=Operation.pin_change, factor=factor, check=check, rt=rt
            )
            if not check.ok:
                raise check.refusal(factor)
        pin_hash = await asyncio.to_thread(_pin_hasher.hash, _pin_input(rt, person.id, body.pin))
        now = rt.clock.now()
        if existing is None:
            session.add(PinCredential(person_id=person.id, pin_hash=pin_hash, created_at=now, updated_at=now))
        else:
            existing.pin_hash, existing.updated_at = pin_hash, now
        await session.flush()
        await rt.outbox.add(session, "identity.pin.set", {"person_id": person.id, "sub": person.sub})
        return PinStatus(pin_set=True, updated_at=now)

    async def factor_locks(self, session: AsyncSession, caller: Caller) -> FactorLockList:
        """Which of the caller's ways of authenticating are locked."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        locked = set(person.locked_factors or ())
        return FactorLockList(items=[FactorLockState(factor=f, locked=f.value in locked) for f in PersonFactor])

    async def set_factor_lock(
        self, session: AsyncSession, caller: Caller, factor: PersonFactor, body: FactorLockSet, *, rt: Runtime
    ) -> FactorLockState:
        """Lock or unlock one way of authenticating the caller (MOSIP's auth-type lock); the same again is a no-op.

        One-time codes and the PIN cannot both be locked: the person's own app signs in with one of them, and the
        person must always be able to come back and unlock the rest.
        """
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        await PersonRepository.from_session(session).lock(person.id)  # concurrent changes to the list, one at a time
        await session.refresh(person, ["locked_factors"])
        locked = set(person.locked_factors or ())
        wanted = locked | {factor.value} if body.locked else locked - {factor.value}
        if wanted >= OWN_APP_FACTORS:
            raise LastOwnFactor(
                "One-time codes and the PIN cannot both be locked: your app signs you in with one of them. Unlock "
                "the other first."
            )
        if wanted != locked:
            person.locked_factors = sorted(wanted)
            await session.flush()
            await rt.outbox.add(
                session,
                "identity.auth_factor.locked" if body.locked else "identity.auth_factor.unlocked",
                {"person_id": person.id, "sub": person.sub, "factor": factor.value, "client_id": caller.client_id},
            )
            log.info("identity.auth_factor.lock_changed", person_id=person.id, factor=factor.value, locked=body.locked)
        return FactorLockState(factor=factor, locked=body.locked)

    async def history(self, session: AsyncSession, caller: Caller, *, paging: PageRequest) -> AuthHistoryPage:
        """The caller's own auth history, newest first."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        rows = await AuthnRepository.from_session(session).history(person.id, paging)
        return AuthHistoryPage.of(
            rows,
            paging,
            position=lambda row: row.id,
            item=lambda row: AuthEventRead(
                id=row.id,
                occurred_at=row.occurred_at,
                operation=Operation(row.operation),
                factor=Factor(row.factor),
                result=Result(row.result),
                reason=row.reason,
                relying_party=row.client_id,
                channel=row.channel,
                assisted_by=row.assisted_by,
                purpose=row.purpose,
                attributes=list(row.attributes),
            ),
        )

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
        check = await self._check_confirmation(session, person, factor.confirmation, client_id=client_id, rt=rt)
        if check.ok or check.error is not None:
            return check
        return Check(False, f"assisted.{check.reason}", check.detail, extensions=check.extensions)

    async def record(
        self,
        session: AsyncSession,
        caller: Caller,
        person: Person,
        *,
        operation: Operation,
        factor: Factor,
        check: Check,
        rt: Runtime,
        client_id: str | None = None,
        attributes: list[str] | None = None,
    ) -> RecordedAuthEvent:
        """Write the auth history entry, its outbox event and the person's access notice (SG-NOTIFY-1)."""
        now = rt.clock.now()
        requester = client_id or caller.client_id
        row: dict[str, Any] = {
            "id": new_id("ahe"),
            "person_id": person.id,
            "occurred_at": now,
            "operation": operation.value,
            "factor": factor.value,
            "result": (Result.success if check.ok else Result.failure).value,
            "reason": None if check.ok else check.reason,
            "client_id": requester,
            "channel": caller.channel,
            "assisted_by": caller.assisted_by,
            "purpose": caller.purpose,
            "consent_id": caller.consent_id,
            "decision_id": caller.decision_id,
            "attributes": attributes or [],
        }
        # Append-only: a Core insert of the row, not an ORM add and a flush of everything else pending.
        await session.execute(_INSERT_AUTH_EVENT, row)
        event = RecordedAuthEvent(row["id"], now, row["reason"], row["attributes"])
        # A failed release released nothing: it is announced as the failed authentication it was.
        subject = (_EVENT_SUBJECTS.get(operation) if check.ok else None) or (
            "identity.authn.succeeded" if check.ok else "identity.authn.failed"
        )
        await rt.outbox.add(
            session,
            subject,
            {
                "auth_event_id": event.id,
                "person_id": person.id,
                "sub": person.sub,
                "client_id": requester,
                "operation": operation.value,
                "factor": factor.value,
                "channel": caller.channel,
                "purpose": caller.purpose,
                "consent_id": caller.consent_id,
                "attributes": event.attributes,
            },
        )
        await notification_service.send_access_notice(
            session,
            person,
            requester=requester,
            operation=operation.value,
            factor=factor.value,
            success=check.ok,
            at=now,
            rt=rt,
        )
        log.info(subject, auth_event_id=event.id, person_id=person.id, reason=event.reason)
        return event

    async def subject_token(
        self, session: AsyncSession, caller: Caller, person: Person, client_id: str, *, rt: Runtime
    ) -> str:
        """`client_id`'s pairwise token for the person, registered so the gateway can resolve it later."""
        request = PairwiseTokenRequest(relying_party_id=client_id)  # refuses a client_id that is no token party
        return await token_service.token_for(session, person, request.relying_party_id, rt=rt)

    @staticmethod
    def admit(caller: Caller, factor: AnyFactor) -> None:
        """Assisted authentication needs a registered operator and the person's own confirmation (SG-INCL-3)."""
        if not isinstance(factor, AssistedFactor):
            return
        if not caller.has_role("assisted_operator") or not caller.assisted_by:
            raise PolicyDenied(
                "SG-INCL-3",
                "Assisted authentication is for registered operators: the gateway must name the assisting operator.",
            )
        if factor.confirmation is None:
            raise PolicyDenied(
                "SG-INCL-3",
                "Assisted authentication needs the person's own confirmation: their OTP or PIN.",
            )

    async def person_of(self, session: AsyncSession, caller: Caller, individual: Individual, *, rt: Runtime) -> Person:
        """The active person behind a VID (revoked or expired VIDs answer 401, SG-TOKEN-1) or a UIN."""
        if individual.type is IndividualType.vid:
            return await token_service.resolve_person(
                session, SubjectReference(type=ReferenceType.vid, value=individual.value), rt=rt
            )
        if not caller.has_role("registrar"):
            # Only the registry's own staff hold UINs; everyone else knows a person by VID or pairwise token.
            raise PolicyDenied(
                "SG-TOKEN-1",
                "Only registrars may name a person by UIN; relying parties and operators use a VID.",
            )
        uin_index = rt.keyring.blind.index(individual.value, kind="uin")
        person = await AuthnRepository.from_session(session).person_by_uin_index(uin_index)
        if person is None or person.status != PersonStatus.active:
            raise ReferenceNotResolved("No enrolled person has this UIN.")
        return person

    async def _subject_token(self, session: AsyncSession, caller: Caller, person: Person, *, rt: Runtime) -> str | None:
        if not caller.has_role("relying_party"):
            return None
        try:
            return await self.subject_token(session, caller, person, caller.client_id, rt=rt)
        except ValidationError:
            log.warning("identity.authn.client_id_not_tokenisable", client_id=caller.client_id)
            return None

    async def _check_confirmation(
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
        retry_after = _seconds_until((oldest or now) + window, now)
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

    @staticmethod
    def _predicate(predicate: Predicate, values: dict[str, str], today: date) -> bool:
        if predicate is Predicate.age_over_18:
            return years_after(date.fromisoformat(values["date_of_birth"]), 18) <= today
        return values.get("residency_status") in RESIDENT_STATUSES


authn = AuthnService()

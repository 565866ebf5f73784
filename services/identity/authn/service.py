"""Authentication: who the person is, whether the factor matches (`factors`), and a record of every attempt
(`attempts`); one-time codes are issued by `otp`. Never commits.

A failed factor is raised marked `after_commit()` (services.common.problems): the attempt, the spent OTP guess and
the outbox event must be committed even though the answer is a 401, and the session dependency commits them first.
"""

from __future__ import annotations

from datetime import date

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.keys import SigningKey
from services.common.paging import PageRequest
from services.common.problems import PolicyDenied
from services.identity.authn import attempts, otp
from services.identity.authn.errors import (
    IndividualMismatch,
    IndividualRequired,
    LastOwnFactor,
    PinProofRequired,
)
from services.identity.authn.factors import factors, new_pin_hash
from services.identity.authn.models import (
    Factor,
    Operation,
    PersonFactor,
    PinCredential,
    Result,
)
from services.identity.authn.otp import AUTHN_SCOPE
from services.identity.authn.repository import AuthnRepository
from services.identity.authn.schemas import (
    AnyFactor,
    AssistedFactor,
    AuthEventRead,
    AuthHistoryPage,
    AuthnRequest,
    AuthnResult,
    FactorLockList,
    FactorLockSet,
    FactorLockState,
    Individual,
    IndividualType,
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
from services.identity.deps import Runtime
from services.identity.persons.models import Person, PersonStatus
from services.identity.persons.repository import PersonRepository
from services.identity.persons.service import person as person_service
from services.identity.tokens.errors import ReferenceNotResolved
from services.identity.tokens.schemas import PairwiseTokenRequest, ReferenceType, SubjectReference
from services.identity.tokens.service import token as token_service

log = structlog.get_logger(__name__)

RESIDENT_STATUSES = frozenset({"citizen", "resident"})
NAMING_ROLES = ("relying_party", "registrar", "assisted_operator")
OWN_APP_FACTORS = frozenset({Factor.otp.value, Factor.pin.value})


def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, month=3, day=1)


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
        return await otp.send_otp(
            session, person, client_id=caller.client_id, scope=AUTHN_SCOPE, requester=caller.client_id, rt=rt
        )

    async def authenticate(
        self, session: AsyncSession, caller: Caller, body: AuthnRequest, *, rt: Runtime, signing_key: SigningKey
    ) -> AuthnResult:
        """Yes/no: does the factor authenticate the person? Never any attribute of theirs (SG-MIN-2)."""
        factor = Factor(body.factor.type)
        self.admit(caller, body.factor)
        person = await self.identify(session, caller, body.individual, rt=rt)
        check = await factors.check_factor(
            session, person, body.factor, client_id=caller.client_id, scope=AUTHN_SCOPE, rt=rt, signing_key=signing_key
        )
        event = await attempts.record(
            session, caller, person, operation=Operation.authn, factor=factor, check=check, rt=rt
        )
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
        check = await factors.check_factor(
            session, person, body.factor, client_id=caller.client_id, scope=AUTHN_SCOPE, rt=rt, signing_key=signing_key
        )
        asked = list(dict.fromkeys(body.predicates))
        event = await attempts.record(
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
            check = await factors.check_confirmation(session, person, proof, client_id=caller.client_id, rt=rt)
            factor = Factor(proof.type)
            await attempts.record(
                session, caller, person, operation=Operation.pin_change, factor=factor, check=check, rt=rt
            )
            if not check.ok:
                raise check.refusal(factor)
        pin_hash = await new_pin_hash(rt, person.id, body.pin)
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

    @staticmethod
    def _predicate(predicate: Predicate, values: dict[str, str], today: date) -> bool:
        if predicate is Predicate.age_over_18:
            return years_after(date.fromisoformat(values["date_of_birth"]), 18) <= today
        return values.get("residency_status") in RESIDENT_STATUSES


authn = AuthnService()

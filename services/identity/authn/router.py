"""Authentication endpoints: request an OTP, yes/no authentication, predicates, the PIN and the auth history."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.identity.authn.errors import (
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
from services.identity.authn.models import PersonFactor
from services.identity.authn.schemas import (
    AuthHistoryPage,
    AuthnRequest,
    AuthnResult,
    FactorLockList,
    FactorLockSet,
    FactorLockState,
    OtpRequest,
    OtpRequested,
    PinSet,
    PinStatus,
    PredicateRequest,
    PredicateResult,
)
from services.identity.authn.service import authn as authn_service
from services.identity.deps import AuthnCallerDep, RuntimeDep, SigningKeyDep, SubjectDep
from services.identity.persons.errors import SubjectNotFound
from services.identity.tokens.errors import ReferenceNotResolved, VidExpired, VidRevoked

router = APIRouter(prefix="/v1", tags=["authentication"])

IDENTIFY_ERRORS = (PolicyDenied, IndividualRequired, IndividualMismatch, ReferenceNotResolved, VidRevoked, VidExpired)
FACTOR_ERRORS = (AuthenticationFailed, BiometricUseAlternative, PinPaused, PinCeilingReached)


@router.post(
    "/authn/otp",
    status_code=202,
    summary="Send a one-time code to a person",
    description="A 6-digit code goes to the person's phone (else e-mail) through the sandbox's simulated messaging "
    "gateway. Only a keyed hash is stored; it expires after `otp_ttl_seconds` and survives `otp_max_attempts` wrong "
    "guesses. It can be used only by the client that requested it. Relying parties and registrars name the person "
    "by VID (or UIN); a subject's own app needs nothing in the body.",
    response_model=OtpRequested,
    responses=problem_responses(*IDENTIFY_ERRORS, SubjectNotFound, OtpChannelUnavailable, OtpSendLimited),
)
async def request_otp(body: OtpRequest, session: SessionDep, caller: AuthnCallerDep, rt: RuntimeDep) -> OtpRequested:
    return await authn_service.request_otp(session, caller, body, rt=rt)


@router.post(
    "/authn",
    summary="Authenticate a person (yes/no)",
    description="Factors: `otp`, `pin`, `biometric` (simulated), `offline_qr` and `assisted` (an operator plus the "
    "person's own OTP or PIN, SG-INCL-3). The answer is yes/no and never carries an attribute of the person "
    "(SG-MIN-2); a failure is 401 with `authenticated: false`. Biometric failure never locks anyone out: after "
    "`biometric_failure_threshold` failures in a row the 401 lists `alternatives` (SG-INCL-2). Every attempt is "
    "recorded in the person's auth history.",
    response_model=AuthnResult,
    responses=problem_responses(*IDENTIFY_ERRORS, *FACTOR_ERRORS, SubjectNotFound),
)
async def authenticate(
    body: AuthnRequest,
    *,
    session: SessionDep,
    caller: AuthnCallerDep,
    rt: RuntimeDep,
    signing_key: SigningKeyDep,
) -> AuthnResult:
    return await authn_service.authenticate(session, caller, body, rt=rt, signing_key=signing_key)


@router.post(
    "/authn/predicates",
    summary="Authenticate a person and answer yes/no predicates",
    description="`age_over_18` (by the service's clock) and `resident` (residency status citizen or resident), "
    "answered as booleans only: never the date of birth or the status itself (SG-MIN-2). The person takes part "
    "with a factor, as for POST /v1/authn.",
    response_model=PredicateResult,
    responses=problem_responses(*IDENTIFY_ERRORS, *FACTOR_ERRORS, SubjectNotFound),
)
async def check_predicates(
    body: PredicateRequest,
    *,
    session: SessionDep,
    caller: AuthnCallerDep,
    rt: RuntimeDep,
    signing_key: SigningKeyDep,
) -> PredicateResult:
    return await authn_service.check_predicates(session, caller, body, rt=rt, signing_key=signing_key)


@router.put(
    "/me/pin",
    summary="Set or change my PIN (subject)",
    description="4 to 12 digits, stored as an Argon2id hash of a keyed HMAC. Changing an existing PIN needs "
    "`current_pin`, or `otp` (from POST /v1/authn/otp by the same app) when it is forgotten.",
    response_model=PinStatus,
    responses=problem_responses(PolicyDenied, SubjectNotFound, PinProofRequired, *FACTOR_ERRORS),
)
async def set_pin(body: PinSet, session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> PinStatus:
    return await authn_service.set_pin(session, caller, body, rt=rt)


@router.get(
    "/me/auth-factors",
    summary="Which ways of authenticating me are locked (subject)",
    description="Each factor (otp, pin, biometric, offline_qr, assisted) and whether I locked it.",
    response_model=FactorLockList,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def list_factor_locks(session: SessionDep, caller: SubjectDep) -> FactorLockList:
    return await authn_service.factor_locks(session, caller)


@router.put(
    "/me/auth-factors/{factor}",
    summary="Lock or unlock one way of authenticating me (subject)",
    description="Like MOSIP's auth-type lock: a locked factor fails every authentication, eKYC and sign-in "
    "(401, reason `<factor>.locked`, with the `alternatives` left open) until I unlock it. One-time codes and the "
    "PIN cannot both be locked (409): my app signs in with one of them.",
    response_model=FactorLockState,
    responses=problem_responses(PolicyDenied, SubjectNotFound, LastOwnFactor),
)
async def set_factor_lock(
    factor: PersonFactor, body: FactorLockSet, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> FactorLockState:
    return await authn_service.set_factor_lock(session, caller, factor, body, rt=rt)


@router.get(
    "/me/auth-history",
    summary="My authentication history (subject)",
    description="Every authentication, predicate check, eKYC and OIDC release about me, newest first: when, which "
    "relying party, which factor, on which channel, who assisted, and the result. No secrets, no values.",
    response_model=AuthHistoryPage,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def auth_history(
    session: SessionDep,
    caller: SubjectDep,
    paging: PageParams,
) -> AuthHistoryPage:
    return await authn_service.history(session, caller, paging=paging)

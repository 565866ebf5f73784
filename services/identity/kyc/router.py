"""eKYC for relying parties: raw attributes only under a KYC purpose and the person's consent (SG-MIN-2)."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.identity.authn.errors import (
    AuthenticationFailed,
    BiometricUseAlternative,
    IndividualMismatch,
    IndividualRequired,
    PinCeilingReached,
    PinPaused,
)
from services.identity.deps import RelyingPartyDep, RuntimeDep, SigningKeyDep
from services.identity.kyc.schemas import KycRequest, KycResponse
from services.identity.kyc.service import kyc as kyc_service
from services.identity.persons.errors import SubjectNotFound
from services.identity.tokens.errors import ReferenceNotResolved, VidExpired, VidRevoked

router = APIRouter(prefix="/v1", tags=["kyc"])


@router.post(
    "/kyc",
    summary="Release a person's attributes to a relying party (eKYC)",
    description="Releases the attributes that BOTH the request's purpose allows (the `kyc_purposes` policy) AND the "
    "person consented to (the assertion's `consented_items`, which the gateway takes from the verified consent "
    "artefact `consent_id`), optionally narrowed by `attributes`. A purpose without a KYC policy, no verified "
    "consent, or an empty intersection is denied with 403 `rule_id: SG-MIN-2`. The person must take part with a "
    "`factor` (OTP, PIN, biometric, offline QR or assisted, as in POST /v1/authn); a failure is 401 and releases "
    "nothing. The UIN is never released. Recorded in the person's auth history and announced on the outbox.",
    response_model=KycResponse,
    responses=problem_responses(
        PolicyDenied,
        IndividualRequired,
        IndividualMismatch,
        ReferenceNotResolved,
        VidRevoked,
        VidExpired,
        SubjectNotFound,
        AuthenticationFailed,
        BiometricUseAlternative,
        PinPaused,
        PinCeilingReached,
    ),
)
async def release_kyc(
    body: KycRequest,
    *,
    session: SessionDep,
    caller: RelyingPartyDep,
    rt: RuntimeDep,
    signing_key: SigningKeyDep,
) -> KycResponse:
    return await kyc_service.release(session, caller, body, rt=rt, signing_key=signing_key)

"""A subject's signed offline credential: a QR code that verifies with the published key and no network."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.identity.credentials.schemas import OfflineCredentialRead
from services.identity.credentials.service import offline_credential as offline_credential_service
from services.identity.deps import RuntimeDep, SigningKeyDep, SubjectDep
from services.identity.persons.errors import SubjectNotFound

router = APIRouter(prefix="/v1/me", tags=["credentials"])


@router.post(
    "/offline-credential",
    status_code=201,
    summary="Issue my signed offline credential (subject)",
    description="A compact ES256 JWS with minimal claims (display name, a pairwise token for the offline verifier, "
    "a photo-hash stand-in) and never the UIN, plus the QR payload. Anyone can verify it offline with the key from "
    "/.well-known/jwks.json (SG-INCL-4). It cannot be revoked, so it expires after "
    "`offline_credential_validity_days`.",
    response_model=OfflineCredentialRead,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def issue_offline_credential(
    session: SessionDep, caller: SubjectDep, rt: RuntimeDep, signing_key: SigningKeyDep
) -> OfflineCredentialRead:
    return await offline_credential_service.issue(session, caller, rt=rt, signing_key=signing_key)

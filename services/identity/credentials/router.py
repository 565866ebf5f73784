"""A subject's signed offline credentials (QR codes that verify with the published key and no network), their
revocation, and the public status list that tells verifiers which were revoked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.identity.credentials.errors import OfflineCredentialNotFound, OfflineCredentialRefused, StatusListFull
from services.identity.credentials.schemas import OfflineCredentialEntry, OfflineCredentialList, OfflineCredentialRead
from services.identity.credentials.service import STATUS_LIST_PATH
from services.identity.credentials.service import offline_credential as offline_credential_service
from services.identity.credentials.status_list import STATUS_LIST_MEDIA_TYPE
from services.identity.deps import RuntimeDep, SigningKeyDep, SubjectDep
from services.identity.persons.errors import SubjectNotFound

router = APIRouter(prefix="/v1/me", tags=["credentials"])
status_list_router = APIRouter(tags=["credentials"])
CredentialId = Annotated[str, Path(pattern=r"^ocr_[0-9a-f]{32}$")]


@router.post(
    "/offline-credential",
    status_code=201,
    summary="Issue my signed offline credential (subject)",
    description="A compact ES256 JWS with minimal claims (display name, a pairwise token for the offline verifier, "
    "a photo-hash stand-in) and never the UIN, plus the QR payload. Anyone can verify it offline with the key from "
    "/.well-known/jwks.json (SG-INCL-4). It names its entry in the status list (`status.status_list`, IETF Token "
    "Status List), so the holder can revoke it, and it expires after `offline_credential_validity_days`.",
    response_model=OfflineCredentialRead,
    responses=problem_responses(PolicyDenied, SubjectNotFound, StatusListFull, OfflineCredentialRefused),
)
async def issue_offline_credential(
    session: SessionDep, caller: SubjectDep, rt: RuntimeDep, signing_key: SigningKeyDep
) -> OfflineCredentialRead:
    return await offline_credential_service.issue(session, caller, rt=rt, signing_key=signing_key)


@router.get(
    "/offline-credentials",
    summary="List my offline credentials (subject)",
    description="Every offline credential issued to the caller, oldest first, with its status (valid, expired or "
    "revoked). The service keeps no copy of a credential's content.",
    response_model=OfflineCredentialList,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def list_offline_credentials(session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> OfflineCredentialList:
    return await offline_credential_service.list_mine(session, caller, rt=rt)


@router.post(
    "/offline-credentials/{credential_id}/revoke",
    summary="Revoke one of my offline credentials (subject)",
    description="For a lost or copied QR code. The credential stops working at once as the `offline_qr` "
    "authentication factor; offline verifiers refuse it once they fetch the status list again (its `ttl` says "
    "how often they should). Revoking it again changes nothing.",
    response_model=OfflineCredentialEntry,
    responses=problem_responses(PolicyDenied, SubjectNotFound, OfflineCredentialNotFound),
)
async def revoke_offline_credential(
    credential_id: CredentialId, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> OfflineCredentialEntry:
    return await offline_credential_service.revoke_mine(session, caller, credential_id, rt=rt)


@status_list_router.get(
    STATUS_LIST_PATH,
    summary="The offline credentials' status list (IETF Token Status List)",
    description="Public. A Status List Token (`typ: statuslist+jwt`, signed with the key in /.well-known/jwks.json): "
    "one bit per credential, set when it was revoked, ZLIB-compressed and base64url-encoded in "
    "`status_list.lst`. Verifiers fetch it while online and check credentials against it offline; every verifier "
    "gets the whole list, so nobody learns which credential was checked.",
    response_class=Response,
    responses={200: {"content": {STATUS_LIST_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def status_list(session: SessionDep, rt: RuntimeDep, signing_key: SigningKeyDep) -> Response:
    token = await offline_credential_service.status_list_token(session, rt=rt, signing_key=signing_key)
    max_age = rt.settings.offline_status_list_ttl_seconds
    return Response(token, media_type=STATUS_LIST_MEDIA_TYPE, headers={"Cache-Control": f"public, max-age={max_age}"})

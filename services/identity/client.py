"""The only module other packages may import from the identity service: its typed HTTP client, and the formats of
identity's numbers and references that others must recognise (the gateway's egress scan and person references)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from services.common.assertion import ASSERTION_HEADER
from services.common.http import ServiceClient, endpoint, raise_for_problem
from services.identity.authn.schemas import AuthnRequest, AuthnResult
from services.identity.notifications.schemas import NoticeDelivery, NoticeRequest
from services.identity.persons.uin import UIN_LENGTH, VID_LENGTH, find_uins, is_valid_uin, is_valid_vid
from services.identity.tokens.schemas import (
    PairwiseTokenRead,
    PairwiseTokenRequest,
    ReferenceType,
    SubjectReference,
    SubjectResolution,
)
from services.identity.vids.schemas import ReissueResult

# `sub_` and 26 base32 characters (persons.service.new_sub); `tok_` and 26 base32 characters (crypto.pairwise_token).
SUB_PATTERN = re.compile(r"sub_[a-z2-7]{26}")
PAIRWISE_TOKEN_PATTERN = re.compile(r"tok_[a-z2-7]{26}")

__all__ = [
    "PAIRWISE_TOKEN_PATTERN",
    "SUB_PATTERN",
    "UIN_LENGTH",
    "VID_LENGTH",
    "AuthnRequest",
    "AuthnResult",
    "IdentityClient",
    "NoticeDelivery",
    "NoticeRequest",
    "PairwiseTokenRead",
    "ReferenceType",
    "ReissueResult",
    "SubjectReference",
    "SubjectResolution",
    "find_uins",
    "is_valid_uin",
    "is_valid_vid",
]


class IdentityClient(ServiceClient):
    """Typed calls to the identity service for the gateway; methods mirror its endpoints.

    Every call but `jwks` carries a gateway assertion minted for audience `identity` (roles `gateway_internal` for
    the subject translations; the caller's own context for authentication). Failures raise RemoteProblem with
    identity's problem body, which the gateway passes through unchanged.

        identity = IdentityClient.connect("http://identity")     # or IdentityClient(app_upstream_client)
        sub = (await identity.resolve_subject(SubjectReference(type=ReferenceType.vid, value=vid),
                                              assertion=internal)).sub          # presented reference -> sub
        token = (await identity.pairwise_token(sub, "rp-clinic", assertion=internal)).token  # sub -> RP's token
        result = await identity.authenticate(AuthnRequest(...), assertion=callers)   # yes (or RemoteProblem 401)
    """

    @endpoint("GET", "/.well-known/jwks.json")
    async def jwks(self) -> dict[str, Any]:
        """The identity service's public signing keys (ID tokens, offline credentials)."""
        response = await self._http.get("/.well-known/jwks.json")
        raise_for_problem(response)
        result: dict[str, Any] = response.json()
        return result

    @endpoint("POST", "/v1/subjects/resolve", body=SubjectReference, response=SubjectResolution)
    async def resolve_subject(self, reference: SubjectReference, *, assertion: str) -> SubjectResolution:
        """The internal `sub` behind a VID or a relying party's pairwise token (gateway only); 401 if none."""
        response = await self._http.post(
            "/v1/subjects/resolve", json=reference.model_dump(mode="json"), headers={ASSERTION_HEADER: assertion}
        )
        raise_for_problem(response)
        return SubjectResolution.model_validate_json(response.content)

    @endpoint("POST", "/v1/subjects/{sub}/pairwise-token", body=PairwiseTokenRequest, response=PairwiseTokenRead)
    async def pairwise_token(self, sub: str, relying_party_id: str, *, assertion: str) -> PairwiseTokenRead:
        """`relying_party_id`'s own token for the person `sub` (gateway only)."""
        response = await self._http.post(
            f"/v1/subjects/{quote(sub, safe='')}/pairwise-token",
            json=PairwiseTokenRequest(relying_party_id=relying_party_id).model_dump(mode="json"),
            headers={ASSERTION_HEADER: assertion},
        )
        raise_for_problem(response)
        return PairwiseTokenRead.model_validate_json(response.content)

    @endpoint("POST", "/v1/authn", body=AuthnRequest, response=AuthnResult)
    async def authenticate(self, request: AuthnRequest, *, assertion: str) -> AuthnResult:
        """Yes/no: does the factor authenticate the person? A no is RemoteProblem 401 (`authenticated: false`)."""
        response = await self._http.post(
            "/v1/authn", json=request.model_dump(mode="json"), headers={ASSERTION_HEADER: assertion}
        )
        raise_for_problem(response)
        return AuthnResult.model_validate_json(response.content)

    @endpoint("POST", "/v1/subjects/{sub}/notices", body=NoticeRequest, response=NoticeDelivery)
    async def send_notice(self, sub: str, notice: NoticeRequest, *, assertion: str) -> NoticeDelivery:
        """Tell the person `sub` about an access to their data or a breach, in their language (gateway only)."""
        response = await self._http.post(
            f"/v1/subjects/{quote(sub, safe='')}/notices",
            json=notice.model_dump(mode="json"),
            headers={ASSERTION_HEADER: assertion},
        )
        raise_for_problem(response)
        return NoticeDelivery.model_validate_json(response.content)

    @endpoint("POST", "/v1/subjects/{sub}/reissue", response=ReissueResult)
    async def reissue(self, sub: str, *, assertion: str) -> ReissueResult:
        """Withdraw the person's VIDs and offline credentials after a breach and issue new VIDs (gateway only)."""
        response = await self._http.post(
            f"/v1/subjects/{quote(sub, safe='')}/reissue", headers={ASSERTION_HEADER: assertion}
        )
        raise_for_problem(response)
        return ReissueResult.model_validate_json(response.content)

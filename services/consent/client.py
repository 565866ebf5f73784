"""The only module other packages may import from the consent service: its typed HTTP client.

Every call carries a gateway assertion minted for audience `consent`: the gateway's own (role `gateway`) for
decisions and purpose reads, the citizen's (role `subject`, `subject_ref` = their `sub`) for the `/me` routes it
proxies. Inputs and outputs are the models the service itself declares as its request and response bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.common import jws
from services.common.assertion import ASSERTION_HEADER
from services.common.http import ServiceClient, raise_for_problem
from services.consent.consents.schemas import ConsentPage, ConsentRead, ConsentRequestCreate, ConsentStatus
from services.consent.decisions.schemas import USE_RECEIPT_ISSUER, USE_RECEIPT_TYPE, Decision, DecisionRequest
from services.consent.purposes.schemas import PurposeList, PurposeRead
from services.consent.receipts.schemas import ReceiptPage, ReceiptRead
from services.consent.vocabulary import Language

__all__ = [
    "ConsentClient", "ConsentPage", "ConsentRead", "ConsentRequestCreate", "ConsentStatus", "Decision",
    "DecisionRequest", "Language", "PurposeList", "PurposeRead", "ReceiptPage", "ReceiptRead", "UseReceiptRefused",
    "verify_use_receipt",
]  # fmt: skip


class UseReceiptRefused(Exception):
    """A data-use receipt that does not cover this use: forged, expired, or for another purpose (SG-PURPOSE-2)."""


def verify_use_receipt(
    token: str, jwks: Mapping[str, Any], *, purpose: str, requester: str | None = None, now: datetime
) -> dict[str, Any]:
    """The claims of a data-use receipt from a consent permit, if it is the consent service's and is for `purpose`
    (and `requester`, when given); else UseReceiptRefused. `jwks` is the consent service's published JWKS."""
    policy = jws.TokenPolicy(
        typ=USE_RECEIPT_TYPE,
        issuer=USE_RECEIPT_ISSUER,
        audience=requester,
        required=frozenset({"exp", "iat", "purpose", "sub"}),
        leeway=timedelta(seconds=5),
    )
    try:
        claims = jws.verify(token, jwks, policy, now=now).claims
    except jws.InvalidToken as error:
        raise UseReceiptRefused(error.reason) from None
    if claims.get("purpose") != purpose:
        raise UseReceiptRefused(f"the receipt is for purpose {claims.get('purpose')}, not {purpose}")
    return claims


class ConsentClient(ServiceClient):
    """Typed calls to the consent service; methods mirror its endpoints."""

    @staticmethod
    def _headers(assertion: str, **extra: str | None) -> dict[str, str]:
        headers = {ASSERTION_HEADER: assertion}
        headers.update({name: value for name, value in extra.items() if value is not None})
        return headers

    @staticmethod
    def _body(response: httpx.Response) -> bytes:
        raise_for_problem(response)
        return response.content

    async def decide(self, request: DecisionRequest, *, assertion: str) -> Decision:
        """POST /v1/decisions (role gateway): permit with the covered items, or deny naming the rule (both 200)."""
        response = await self._http.post(
            "/v1/decisions", json=request.model_dump(mode="json", exclude_none=True), headers=self._headers(assertion)
        )
        return Decision.model_validate_json(self._body(response))

    async def purposes(self, *, assertion: str, language: Language | None = None) -> PurposeList:
        """GET /v1/purposes: the registry, each notice in `language` or visibly fallen back."""
        params = {"language": language.value} if language else None
        response = await self._http.get("/v1/purposes", params=params, headers=self._headers(assertion))
        return PurposeList.model_validate_json(self._body(response))

    async def purpose(self, code: str, *, assertion: str, language: Language | None = None) -> PurposeRead:
        """GET /v1/purposes/{code}."""
        params = {"language": language.value} if language else None
        response = await self._http.get(f"/v1/purposes/{code}", params=params, headers=self._headers(assertion))
        return PurposeRead.model_validate_json(self._body(response))

    async def request_consent(
        self, body: ConsentRequestCreate, *, assertion: str, idempotency_key: str | None = None
    ) -> ConsentRead:
        """POST /v1/consents (role relying_party): ask the subject; the artefact starts `requested`."""
        response = await self._http.post(
            "/v1/consents",
            json=body.model_dump(mode="json", exclude_none=True),
            headers=self._headers(assertion, **{"Idempotency-Key": idempotency_key}),
        )
        return ConsentRead.model_validate_json(self._body(response))

    async def my_consents(
        self,
        *,
        assertion: str,
        status: ConsentStatus | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> ConsentPage:
        """GET /v1/me/consents (role subject): the caller's artefacts, newest first."""
        params = {k: v for k, v in {"status": status, "cursor": cursor, "limit": limit}.items() if v is not None}
        response = await self._http.get("/v1/me/consents", params=params, headers=self._headers(assertion))
        return ConsentPage.model_validate_json(self._body(response))

    async def my_consent(self, consent_id: str, *, assertion: str) -> ConsentRead:
        response = await self._http.get(f"/v1/me/consents/{consent_id}", headers=self._headers(assertion))
        return ConsentRead.model_validate_json(self._body(response))

    async def _act(self, consent_id: str, action: str, assertion: str) -> ConsentRead:
        response = await self._http.post(f"/v1/me/consents/{consent_id}/{action}", headers=self._headers(assertion))
        return ConsentRead.model_validate_json(self._body(response))

    async def grant(self, consent_id: str, *, assertion: str) -> ConsentRead:
        """POST /v1/me/consents/{id}/grant (role subject)."""
        return await self._act(consent_id, "grant", assertion)

    async def deny(self, consent_id: str, *, assertion: str) -> ConsentRead:
        """POST /v1/me/consents/{id}/deny (role subject)."""
        return await self._act(consent_id, "deny", assertion)

    async def revoke(self, consent_id: str, *, assertion: str) -> ConsentRead:
        """POST /v1/me/consents/{id}/revoke (role subject): exactly the shape of grant (SG-CONSENT-4)."""
        return await self._act(consent_id, "revoke", assertion)

    async def my_receipts(
        self, *, assertion: str, consent_id: str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> ReceiptPage:
        """GET /v1/me/receipts (role subject): signed receipts of the caller's artefacts, newest first."""
        params = {k: v for k, v in {"consent_id": consent_id, "cursor": cursor, "limit": limit}.items() if v}
        response = await self._http.get("/v1/me/receipts", params=params, headers=self._headers(assertion))
        return ReceiptPage.model_validate_json(self._body(response))

    async def my_receipt(self, receipt_id: str, *, assertion: str) -> ReceiptRead:
        """GET /v1/me/receipts/{id} (role subject): one receipt, with its JWS."""
        response = await self._http.get(f"/v1/me/receipts/{receipt_id}", headers=self._headers(assertion))
        return ReceiptRead.model_validate_json(self._body(response))

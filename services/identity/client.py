"""The only module other packages may import from the identity service: its typed HTTP client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.http import ServiceClient, raise_for_problem


class IdentityClient(ServiceClient):
    """Typed calls to the identity service; methods mirror its endpoints."""

    async def jwks(self) -> dict[str, Any]:
        """The identity service's public signing keys (ID tokens, offline credentials)."""
        response = await self._http.get("/.well-known/jwks.json")
        raise_for_problem(response)
        result: dict[str, Any] = response.json()
        return result

    async def resolve_subject(
        self, *, type: str, value: str, relying_party_id: str | None = None, headers: Mapping[str, str]
    ) -> str:
        """POST /v1/subjects/resolve (role gateway_internal): the internal `sub` behind a VID or a pairwise token.
        `headers` carry the gateway's assertion. Raises RemoteProblem (401) if the reference identifies no one."""
        body: dict[str, Any] = {"type": type, "value": value}
        if relying_party_id is not None:
            body["relying_party_id"] = relying_party_id
        response = await self._http.post("/v1/subjects/resolve", json=body, headers=dict(headers))
        raise_for_problem(response)
        return str(response.json()["sub"])

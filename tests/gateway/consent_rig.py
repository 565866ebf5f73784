"""The real consent service behind the gateway in the rule-engine tests, set up through its own API (purposes
registered by the purpose administrator and approved by oversight, consents asked by a relying party and granted by
the person): the gateway's calls to it (`ConsentClient.decide`, `.purpose`) are its contract test."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tests.consent.consent_helpers import ConsentApi
from tests.gateway.edge import CountingTransport


@dataclass
class ConsentRig:
    api: ConsentApi
    transport: CountingTransport
    granted: dict[str, tuple[str, str]] = field(default_factory=dict)  # consent id -> (subject, requester)

    @property
    def asked(self) -> list[dict[str, Any]]:
        """Every decision the gateway asked for, as the consent service received it."""
        return [json.loads(body) for method, path, body in self.transport.bodies if path == "/v1/decisions"]

    async def purpose(
        self, code: str, items: list[str], *, status: str = "active", statutes: list[dict[str, Any]] | None = None
    ) -> None:
        await self.api.purpose(code, allowed_items=items, ekyc_allowed=True, essential=False, statutes=statutes or [])
        if status != "active":
            response = await self.api.call(
                "POST", f"/v1/purposes/{code}/status", roles=("oversight",), client_id="oversight-board",
                json={"status": status, "reason": "Paused pending review."},
            )  # fmt: skip
            assert response.status_code == 200, response.text

    async def grant(
        self, requester: str, subject: str, purpose: str, items: list[str], *, days: int = 30, **terms: Any
    ) -> str:
        consent = await self.api.granted(
            purpose, subject, requester=requester, data_items=items,
            expires_at=(self.api.clock.now() + timedelta(days=days)).isoformat(), **terms,
        )  # fmt: skip
        self.granted[consent["id"]] = (subject, requester)
        return str(consent["id"])

    async def uses(self, consent_id: str) -> int:
        """How many uses of the artefact the consent service has recorded."""
        _, requester = self.granted[consent_id]
        read = await self.api.call("GET", f"/v1/consents/{consent_id}", roles=("relying_party",), client_id=requester)
        assert read.status_code == 200, read.text
        return int(read.json()["uses"])

    async def revoke(self, consent_id: str) -> None:
        subject, _ = self.granted[consent_id]
        response = await self.api.act(consent_id, "revoke", subject)
        assert response.status_code == 200, response.text

"""Consent test helpers: an HTTP client acting as the gateway for any role, a registry purpose, a granted consent."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

GATEWAY = ("gateway",)
SUBJECT = ("subject",)
REQUESTER = ("relying_party",)
PURPOSE_ADMIN = ("purpose_admin",)
OVERSIGHT = ("oversight",)
RP = "rp-social-agency"

_serial = itertools.count(1)


def purpose_body(code: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A registrable purpose; each call without a code gets a new one."""
    body: dict[str, Any] = {
        "code": code or f"TEST_PURPOSE_{next(_serial)}",
        "texts": {
            "en": {"title": "Cash transfer eligibility", "description": "We check your household income band."},
            "fr": {"title": "Éligibilité au transfert", "description": "Nous vérifions la tranche de revenu."},
        },
        "dpv_purpose": "dpv:PublicBenefit",
        "legal_basis": "dpv:Consent",
        "essential": True,
        "allowed_items": ["household_income_band", "household_size", "full_name"],
        "max_validity_days": 90,
        "max_data_life_days": 30,
        "ekyc_allowed": False,
        "statutes": [],
        "dpia_ref": "DPIA-2026-014",
        "hria_ref": "HRIA-2026-009",
    }
    body.update(overrides)
    return body


class ConsentApi:
    """Talks to the consent app as the gateway would, minting a fresh assertion per request."""

    def __init__(self, svc: Any, gateway: Any, clock: Any) -> None:
        self.svc = svc
        self.gateway = gateway
        self.clock = clock

    async def call(
        self,
        method: str,
        path: str,
        *,
        roles: tuple[str, ...],
        subject_ref: str | None = None,
        client_id: str = RP,
        channel: str = "web",
        assisted_by: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        assertion = self.gateway.headers(
            "consent",
            client_id=client_id,
            roles=roles,
            subject_ref=subject_ref,
            channel=channel,
            assisted_by=assisted_by,
        )
        return await self.svc.client.request(
            method, path, json=json, params=params, headers={**assertion, **(headers or {})}
        )

    async def purpose(self, code: str | None = None, *, approve: bool = True, **overrides: Any) -> dict[str, Any]:
        """Register a purpose and (by default) have oversight approve it."""
        body = purpose_body(code, **overrides)
        created = await self.call("POST", "/v1/purposes", roles=PURPOSE_ADMIN, client_id="registry-admin", json=body)
        assert created.status_code == 201, created.text
        if not approve:
            return created.json()  # type: ignore[no-any-return]
        approved = await self.call(
            "POST",
            f"/v1/purposes/{body['code']}/approval",
            roles=OVERSIGHT,
            client_id="oversight-board",
            json={"dpia_ref": body["dpia_ref"], "hria_ref": body["hria_ref"]},
        )
        assert approved.status_code == 200, approved.text
        return approved.json()  # type: ignore[no-any-return]

    def artefact(self, purpose: str, subject: str = "sub_amara", **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "subject": subject,
            "purpose": purpose,
            "data_items": ["household_income_band"],
            "expires_at": (self.clock.now() + timedelta(days=30)).isoformat(),
            "data_life": {"unit": "day", "value": 7},
            "jurisdiction": ["XS"],
            "revoke_url": "/me/consents",
            "grievance_url": "/me/grievances",
        }
        body.update(overrides)
        return {key: value for key, value in body.items() if value is not None}

    async def request(self, purpose: str, subject: str = "sub_amara", **overrides: Any) -> httpx.Response:
        requester = overrides.pop("requester", RP)
        body = self.artefact(purpose, subject, **overrides)
        return await self.call("POST", "/v1/consents", roles=REQUESTER, client_id=requester, json=body)

    async def requested(self, purpose: str, subject: str = "sub_amara", **overrides: Any) -> dict[str, Any]:
        response = await self.request(purpose, subject, **overrides)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def act(self, consent_id: str, action: str, subject: str = "sub_amara", **kwargs: Any) -> httpx.Response:
        return await self.call("POST", f"/v1/me/consents/{consent_id}/{action}", roles=SUBJECT, subject_ref=subject,
                               **kwargs)  # fmt: skip

    async def granted(self, purpose: str, subject: str = "sub_amara", **overrides: Any) -> dict[str, Any]:
        consent = await self.requested(purpose, subject, **overrides)
        response = await self.act(consent["id"], "grant", subject)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def decide(
        self, purpose: str, subject: str = "sub_amara", *, items: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        body = {"requester": extra.pop("requester", RP), "subject": subject, "purpose": purpose,
                "items": items or ["household_income_band"], **extra}  # fmt: skip
        response = await self.call("POST", "/v1/decisions", roles=GATEWAY, client_id="dpi-gateway", json=body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


async def events(svc: Any, subject: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows the service wrote (subject and payload), oldest first."""
    from services.consent.models import outbox

    async with svc.app.state.sessionmaker() as session:
        statement = select(outbox.c.subject, outbox.c.payload).order_by(outbox.c.id)
        rows = (await session.execute(statement)).all()
    return [{"subject": r.subject, "payload": r.payload} for r in rows if subject is None or r.subject == subject]


def iso(value: datetime) -> str:
    return value.isoformat()

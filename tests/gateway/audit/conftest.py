"""Fixtures for the audit log: a gateway on a fresh database with a test authenticator, and event factories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Request

from gateway.audit.events import AuditEvent
from gateway.auth.caller import AuthenticatedCaller
from services.common.problems import Unauthenticated

CALLERS: dict[str, AuthenticatedCaller] = {
    "auditor": AuthenticatedCaller(client_id="audit-office", roles=("auditor",)),
    "oversight": AuthenticatedCaller(client_id="oversight-board", roles=("oversight",)),
    "operator": AuthenticatedCaller(client_id="ops-desk", roles=("operator",)),
    "bank": AuthenticatedCaller(client_id="bank-1", roles=("relying_party",)),
}


class HeaderAuthenticator:
    """A test authenticator: `X-Test-Caller: auditor` is the auditor of CALLERS; no header, 401."""

    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        name = request.headers.get("X-Test-Caller")
        if name not in CALLERS:
            raise Unauthenticated("no test caller")
        return CALLERS[name]


def as_caller(name: str) -> dict[str, str]:
    return {"X-Test-Caller": name}


def make_event(**overrides: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "decision": "permit",
        "actor": "bank-1",
        "actor_type": "organisation",
        "sub": "sub-alice",
        "action": "GET /v1/persons/{sub}",
        "purpose": "kyc",
        "legal_basis": "consent",
        "consent_id": "cns-1",
        "fields_returned": ("name", "birth_date"),
        "rule_ids": ("SG-CONSENT-1",),
        "channel": "web",
        "status": 200,
        "request_id": "req-1",
    }
    values.update(overrides)
    return AuditEvent(**values)


EventFactory = Callable[..., AuditEvent]


@pytest.fixture
async def gateway_app(service_factory: Any) -> Any:
    service = await service_factory("gateway")
    service.app.state.authenticator = HeaderAuthenticator()
    return service

"""A gateway on a fresh database whose authenticator trusts a test header, for the people-and-oversight routes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request

from gateway.auth.caller import AuthenticatedCaller
from services.common.problems import Unauthenticated

CALLERS: dict[str, AuthenticatedCaller] = {
    "amina": AuthenticatedCaller(client_id="citizen-app", kind="citizen", roles=("subject",), subject_ref="sub-amina"),
    "bilal": AuthenticatedCaller(client_id="citizen-app", kind="citizen", roles=("subject",), subject_ref="sub-bilal"),
    "officer": AuthenticatedCaller(client_id="grievance-desk", roles=("grievance_officer",)),
    "oversight": AuthenticatedCaller(client_id="oversight-board", roles=("oversight",)),
    "auditor": AuthenticatedCaller(client_id="audit-office", roles=("auditor",)),
    "bank": AuthenticatedCaller(client_id="bank-1", roles=("relying_party",)),
}


class HeaderAuthenticator:
    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        name = request.headers.get("X-Test-Caller")
        if name not in CALLERS:
            raise Unauthenticated("no test caller")
        return CALLERS[name]


def as_(name: str, **headers: str) -> dict[str, str]:
    return {"X-Test-Caller": name, **headers}


@pytest.fixture
async def desk(service_factory: Any) -> Any:
    service = await service_factory("gateway", grievance_escalation_interval_seconds=0, notice_interval_seconds=0)
    service.app.state.authenticator = HeaderAuthenticator()
    return service

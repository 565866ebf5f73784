"""Caller authentication at the gateway: the seam the gateway issue fills with the client registry
(private_key_jwt), citizen OIDC tokens and roles. Until a registry is configured nobody is admitted: deny by default.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from services.common.assertion import CallContext
from services.common.problems import Unauthenticated


class CallerAuthenticator(Protocol):
    async def authenticate(self, request: Request) -> CallContext: ...


class DenyAll:
    """The default: no client registry is configured yet, so every non-public request is refused with 401."""

    async def authenticate(self, request: Request) -> CallContext:
        raise Unauthenticated(
            "No registered client credentials were presented; the gateway admits only authenticated callers.",
            headers={"WWW-Authenticate": 'Bearer realm="dpi-sandbox"'},
        )

"""Caller authentication at the gateway: the seam the gateway issue fills with the client registry
(private_key_jwt), citizen OIDC tokens and roles. Until a registry is configured nobody is admitted: deny by default.
"""

from __future__ import annotations

from fastapi import Request

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import Authenticator
from services.common.problems import Unauthenticated

CallerAuthenticator = Authenticator


class DenyAll:
    """The default: no client registry is configured yet, so every non-public request is refused with 401."""

    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        raise Unauthenticated(
            "No registered client credentials were presented; the gateway admits only authenticated callers.",
            headers={"WWW-Authenticate": 'Bearer realm="dpi-sandbox"'},
        )

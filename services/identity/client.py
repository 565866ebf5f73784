"""The only module other packages may import from the identity service: its typed HTTP client."""

from __future__ import annotations

from services.common.http import ServiceClient


class IdentityClient(ServiceClient):
    """Typed calls to the identity service; methods mirror its endpoints."""

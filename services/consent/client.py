"""The only module other packages may import from the consent service: its typed HTTP client."""

from __future__ import annotations

from services.common.http import ServiceClient


class ConsentClient(ServiceClient):
    """Typed calls to the consent service; methods mirror its endpoints."""

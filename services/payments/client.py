"""The only module other packages may import from the payments service: its typed HTTP client."""

from __future__ import annotations

from services.common.http import ServiceClient


class PaymentsClient(ServiceClient):
    """Typed calls to the payments service; methods mirror its endpoints."""

"""The only module other packages may import from the exchange service: its typed HTTP client."""

from __future__ import annotations

from services.common.http import ServiceClient


class ExchangeClient(ServiceClient):
    """Typed calls to the exchange service; methods mirror its endpoints."""

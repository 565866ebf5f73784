"""Problems of the fetch path besides policy denials (which are PolicyDenied with their rule id)."""

from __future__ import annotations

from services.exchange.members.errors import ServiceNotFound

__all__ = ["ServiceNotFound"]

"""Court orders' persistence: the kit's repository (a keyset page by id)."""

from __future__ import annotations

from services.common.repository import Repository
from services.exchange.orders.models import CourtOrder


class CourtOrderRepository(Repository[CourtOrder]):
    model = CourtOrder

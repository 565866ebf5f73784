"""Problems of the court-order registry."""

from __future__ import annotations

from services.common.problems import InvalidInput, NotFound


class CourtOrderNotFound(NotFound):
    title = "No such court order"
    type_slug = "exchange/court-order-not-found"
    code = "exchange.court_order_not_found"


class InvalidCourtOrder(InvalidInput):
    title = "Invalid court order"
    type_slug = "exchange/invalid-court-order"
    code = "exchange.invalid_court_order"

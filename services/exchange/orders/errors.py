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


class DeferralTooLong(InvalidInput):
    """SG-ACCESS-2: a court may defer the subject's view of an access, but only within the policy maximum."""

    title = "Disclosure deferred beyond the policy maximum"
    type_slug = "exchange/deferral-too-long"
    code = "exchange.deferral_too_long"
    rule_id = "SG-ACCESS-2"

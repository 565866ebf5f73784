"""Problems of publish/subscribe."""

from __future__ import annotations

from services.common.problems import NotFound


class SubscriptionNotFound(NotFound):
    title = "No such subscription"
    type_slug = "exchange/subscription-not-found"
    code = "exchange.subscription_not_found"

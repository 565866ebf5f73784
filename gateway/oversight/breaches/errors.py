from __future__ import annotations

from services.common.problems import NotFound


class BreachNotFound(NotFound):
    title = "No such breach incident"
    type_slug = "gateway/breach-not-found"
    code = "gateway.breach_not_found"

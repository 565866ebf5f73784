"""Problems that cross the exchange's domains: what a provider answered, or that it did not answer."""

from __future__ import annotations

from typing import Any

from services.common.problems import ProblemError


class ProviderUnavailable(ProblemError):
    status = 502
    title = "The provider did not answer"
    type_slug = "exchange/provider-unavailable"
    code = "exchange.provider_unavailable"


class ProviderRefused(ProblemError):
    """A provider's own problem+json, passed through unchanged but for this request's instance and id."""

    status = 400
    title = "The provider refused the request"
    type_slug = "exchange/provider-refused"
    code = "exchange.provider_refused"

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("detail") or body.get("title") or self.title))
        self.status = status  # type: ignore[misc]
        self.body = body

    def to_problem(self, *, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        base = super().to_problem(instance=instance, request_id=request_id)
        return {**base, **{k: v for k, v in self.body.items() if k not in ("instance", "request_id")}}

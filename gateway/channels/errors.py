"""Problems of the channels: what a service refused on a person's behalf, relayed as it said it."""

from __future__ import annotations

from typing import Any

from gateway.proxy.service import Acted
from services.common.problems import PolicyDenied, ProblemError

RELAYED = ("reason", "factor", "alternatives", "retry_after", "errors")


class ServiceRefused(ProblemError):
    """A service behind the gateway refused an action taken on a person's behalf: its status and detail, relayed."""

    title = "The service refused the action"
    type_slug = "gateway/channel-service-refused"
    code = "gateway.channel_service_refused"

    def __init__(self, status: int, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.status = status  # type: ignore[misc]


def refusal(acted: Acted) -> ProblemError:
    """The problem to answer for a refused action: a rule's denial stays one (with its rule id), anything else is the
    service's refusal, relayed with its status, detail and the fields a person acts on (alternatives...)."""
    body: dict[str, Any] = {}
    if acted.content:
        try:
            found = acted.json()
        except ValueError:
            found = None
        body = found if isinstance(found, dict) else {}
    detail = str(body.get("detail") or f"The service answered {acted.status}.")
    extras = {key: body[key] for key in RELAYED if key in body}
    rule_id = body.get("rule_id")
    if isinstance(rule_id, str):
        return PolicyDenied(rule_id, detail, status=acted.status, audit_event_id=acted.decision_id, **extras)
    return ServiceRefused(
        acted.status, detail, audit_event_id=acted.decision_id, upstream_code=body.get("code"), **extras
    )

"""A decision for every request, permit or deny: the audit event the gateway appends for it.

The event id is allocated before the provider is called, so the assertion the provider receives names the decision
(`decision_id`) and a denial's problem body names it (`audit_event_id`). Events hold metadata only: who, about whom
(`sub`), which route, purpose, legal basis, consent, the fields returned, the rules that decided, channel, assisted-by
and time. Never a payload, a VID, a token or a path parameter that could carry one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from gateway.audit.events import AppendedEvent, AuditEvent
from gateway.auth.caller import AuthenticatedCaller
from gateway.rules.context import RequestContext
from gateway.rules.engine import Evaluation
from services.common.ids import new_id


class AuditSink(Protocol):
    def append(self, event: AuditEvent) -> Awaitable[AppendedEvent]: ...


def new_decision_id() -> str:
    return new_id("evt")


def actor_type(caller: AuthenticatedCaller | None) -> str:
    """How the access log names the kind of actor (SG-OVERSIGHT-1: operators' reads show as operators)."""
    if caller is None:
        return "anonymous"
    if caller.kind == "citizen":
        return "subject"
    for role, kind in (
        ("law_enforcement", "law_enforcement"),
        ("auditor", "auditor"),
        ("oversight", "oversight"),
        ("registrar", "operator"),
        ("adjudicator", "operator"),
        ("assisted_operator", "operator"),
        ("trainer", "trainer"),
    ):
        if role in caller.roles:
            return kind
    return "organisation"


@dataclass
class Decision:
    """What the proxy (or the dry run) decided for one request, ready to be appended."""

    decision_id: str
    action: str
    caller: AuthenticatedCaller | None
    context: RequestContext
    decision: Literal["permit", "deny"]
    status: int
    rule_ids: Sequence[str] = ()
    evaluation: Evaluation | None = None
    fields_returned: Sequence[str] = ()
    disclose_after: datetime | None = None
    dry_run: bool = False
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def event(self) -> AuditEvent:
        evaluation = self.evaluation
        consent = evaluation.consent if evaluation else None
        return AuditEvent(
            event_id=self.decision_id,
            decision=self.decision,
            actor=self.caller.client_id if self.caller else "anonymous",
            actor_type=actor_type(self.caller),
            sub=(evaluation.subject if evaluation else None) or (self.caller.subject_ref if self.caller else None),
            action=self.action,
            purpose=self.context.purpose,
            legal_basis=(evaluation.legal_basis if evaluation else None) or self.context.legal_basis,
            consent_id=(consent.consent_id if consent else None) or self.context.consent_id,
            court_order_id=self.context.court_order,
            fields_returned=tuple(self.fields_returned),
            rule_ids=tuple(self.rule_ids),
            channel=self.context.channel,
            assisted_by=self.context.assisted_by,
            confirmation=self.context.confirmation,
            disclose_after=self.disclose_after,
            dry_run=self.dry_run,
            status=self.status,
            request_id=self.request_id,
        )


async def record(sink: AuditSink, decision: Decision) -> AppendedEvent:
    return await sink.append(decision.event())

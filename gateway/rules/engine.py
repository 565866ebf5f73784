"""The rule engine: every request to a declared route is evaluated here before the provider is called.

The route's declaration (routes.yaml) says which rules guard it; the engine runs them in one fixed order (least
privilege first, then channel, person, purpose, legal basis and consent) and, for a real request, stops at the first
denial. The dry run (`POST /governance/decide`) runs every rule and reports each one's outcome. The engine reads
facts (who a person reference is, what a purpose allows, what consent decides) through `Facts`, so the same
evaluation serves both and never touches the provider.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from gateway.auth.caller import AuthenticatedCaller
from gateway.rules import pointers
from gateway.rules.context import RequestContext
from gateway.rules.routes import POST_RULES, PRE_RULES, Route, SubjectDeclaration
from services.common.assertion import LegalBasis
from services.identity.client import PAIRWISE_TOKEN_PATTERN, is_valid_uin, is_valid_vid

Outcome = Literal["permit", "deny", "not_evaluated", "on_response", "by_provider"]


class RuleViolation(Exception):
    """Raised by an evaluator or a fact source: the request breaks `rule_id`."""

    def __init__(self, rule_id: str, detail: str, *, status: int | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.rule_id = rule_id
        self.detail = detail
        self.status = status
        self.extensions = extensions


@dataclass(frozen=True)
class Reference:
    """What a caller presented for a person: a VID, its own pairwise token, or (for identity only) a UIN."""

    type: Literal["vid", "pairwise_token", "uin"]
    value: str


@dataclass(frozen=True)
class StatuteInfo:
    reference: str
    requesters: tuple[str, ...]


@dataclass(frozen=True)
class PurposeInfo:
    code: str
    status: str
    allowed_items: tuple[str, ...]
    statutes: tuple[StatuteInfo, ...] = ()
    legal_basis: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class ConsentVerdict:
    decision: Literal["permit", "deny"]
    decision_id: str | None
    consent_id: str | None
    covered_items: tuple[str, ...]
    legal_basis: str | None
    rule_id: str | None
    detail: str | None
    valid_until: datetime | None = None


class Facts(Protocol):
    async def resolve(self, caller: AuthenticatedCaller, reference: Reference) -> str:
        """The internal `sub` behind a presented reference; raises RuleViolation (SG-TOKEN-1) if none."""
        ...

    async def purpose(self, code: str) -> PurposeInfo | None: ...

    async def consent(
        self,
        *,
        requester: str,
        subject: str,
        purpose: str,
        items: tuple[str, ...],
        processing_location: str | None,
        dry_run: bool = False,
    ) -> ConsentVerdict:
        """Whether consent (or a statute) covers the use; a permit takes one use, unless `dry_run`."""
        ...


@dataclass
class Finding:
    rule_id: str
    outcome: Outcome
    detail: str
    status: int | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """One request's evaluation: the findings, and what the gateway learned on the way (for the assertion)."""

    route: Route
    caller: AuthenticatedCaller
    context: RequestContext
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)  # as matched on the decoded path
    subject: str | None = None
    reference: Reference | None = None
    purpose: PurposeInfo | None = None
    consent: ConsentVerdict | None = None
    legal_basis: LegalBasis | None = None
    requested_items: tuple[str, ...] = ()
    consented_items: tuple[str, ...] | None = None
    # Further person references in the body (a batch of beneficiaries...): what was presented -> `sub`.
    person_subs: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    dry_run: bool = False  # the governance dry run: every rule, no provider, and no consent use spent

    @property
    def denial(self) -> Finding | None:
        return next((f for f in self.findings if f.outcome == "deny"), None)

    @property
    def permitted(self) -> bool:
        return self.denial is None

    @property
    def rule_ids(self) -> list[str]:
        """The rules that denied (a permit carries none), in evaluation order."""
        return [f.rule_id for f in self.findings if f.outcome == "deny"]

    @property
    def allowed_fields(self) -> frozenset[str] | None:
        """What may leave in the answer: consented ∩ purpose-allowed (None: the route releases nothing)."""
        return None if self.consented_items is None else frozenset(self.consented_items)


Evaluator = Callable[[Evaluation, Facts], Awaitable[str]]
READ_ONLY_ROLES = frozenset({"auditor"})


class RuleEngine:
    def __init__(self) -> None:
        self._evaluators: dict[str, Evaluator] = {
            "SG-OVERSIGHT-1": _oversight,
            "SG-SEC-1": _least_privilege,
            "SG-INCL-3": _assisted_channel,
            "SG-TOKEN-1": _person,
            "SG-PURPOSE-1": _purpose,
            "SG-LAWFUL-1": _legal_basis,
            "SG-CONSENT-1": _consent,
        }
        assert set(self._evaluators) == set(PRE_RULES)

    @staticmethod
    def guards(route: Route) -> list[str]:
        """The rules the engine evaluates for the route before the provider is called, in evaluation order."""
        declared = set(route.rules)
        if route.access == "authenticated":
            declared.add("SG-SEC-1")
            if route.is_write:
                declared.add("SG-OVERSIGHT-1")
        return [rule for rule in PRE_RULES if rule in declared]

    async def evaluate(
        self,
        route: Route,
        caller: AuthenticatedCaller,
        context: RequestContext,
        facts: Facts,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        path_params: dict[str, str] | None = None,
        exhaustive: bool = False,
    ) -> Evaluation:
        """Evaluate the route's rules; stop at the first denial unless `exhaustive` (the dry run)."""
        evaluation = Evaluation(
            route=route, caller=caller, context=context, body=body, query=query or {},
            path_params=path_params or {}, dry_run=exhaustive,
        )  # fmt: skip
        for rule_id in self.guards(route):
            try:
                detail = await self._evaluators[rule_id](evaluation, facts)
            except _NotEvaluated as skipped:
                evaluation.findings.append(Finding(rule_id, "not_evaluated", str(skipped)))
                continue
            except RuleViolation as violation:
                evaluation.findings.append(
                    Finding(violation.rule_id, "deny", violation.detail, violation.status, violation.extensions)
                )
                if not exhaustive:
                    return evaluation
                continue
            evaluation.findings.append(Finding(rule_id, "permit", detail))
        if exhaustive:
            for rule_id in route.rules:
                if rule_id in POST_RULES:
                    evaluation.findings.append(
                        Finding(rule_id, "on_response", "Applied to the provider's answer: fields outside consented "
                                "∩ purpose-allowed are dropped and the fields returned are recorded.")
                    )  # fmt: skip
                elif rule_id not in PRE_RULES:
                    evaluation.findings.append(
                        Finding(rule_id, "by_provider", f"Enforced by the {route.service} service itself.")
                    )
        return evaluation


class _NotEvaluated(Exception):
    """A rule that cannot be judged because an earlier one failed (only in an exhaustive evaluation)."""


async def _oversight(evaluation: Evaluation, facts: Facts) -> str:
    caller, route = evaluation.caller, evaluation.route
    admitted = set(caller.roles) & set(route.roles)
    if route.is_write and caller.has_role(*READ_ONLY_ROLES) and admitted <= READ_ONLY_ROLES:
        raise RuleViolation(
            "SG-OVERSIGHT-1",
            f"{route.method} {route.gateway_path} changes state; the auditor role inspects everything and changes "
            "nothing.",
        )
    return "The caller does not act through a read-only oversight role."


async def _least_privilege(evaluation: Evaluation, facts: Facts) -> str:
    caller, route = evaluation.caller, evaluation.route
    if not set(caller.roles) & set(route.roles):
        raise RuleViolation(
            "SG-SEC-1",
            f"{route.summary} ({route.method} {route.gateway_path}) admits the roles {', '.join(route.roles)}; "
            f"the caller holds {', '.join(caller.roles) or 'none'}.",
        )
    missing = [scope for scope in route.scopes if scope not in caller.scopes]
    if missing:
        raise RuleViolation("SG-SEC-1", f"The caller's token lacks the scopes {', '.join(missing)}.")
    return f"The caller holds {', '.join(sorted(set(caller.roles) & set(route.roles)))}, which the route admits."


async def _assisted_channel(evaluation: Evaluation, facts: Facts) -> str:
    context = evaluation.context
    if context.channel == "assisted" and not context.assisted_by:
        raise RuleViolation(
            "SG-INCL-3",
            "The assisted channel needs X-Assisted-By naming the operator who helps the person, so the person's "
            "access log shows who assisted.",
        )
    if context.assisted_by and context.channel != "assisted":
        raise RuleViolation("SG-INCL-3", "X-Assisted-By is stated only with X-Channel: assisted.")
    if context.channel == "assisted":
        return f"Assisted by operator {context.assisted_by}."
    return f"Channel {context.channel}."


async def _person(evaluation: Evaluation, facts: Facts) -> str:
    """The person the request is about, as `sub`: a citizen is themselves; others present a VID or their token."""
    caller, route = evaluation.caller, evaluation.route
    await _further_people(evaluation, facts)
    declared = route.subject
    if declared.source == "none" or not declared.applies(evaluation.path_params):
        if evaluation.person_subs:
            return f"{len(evaluation.person_subs)} presented reference(s) identify enrolled people."
        return "The route is about no particular person."
    if caller.kind == "citizen" or declared.source == "caller":
        if not caller.subject_ref:
            raise RuleViolation("SG-TOKEN-1", "This route is about the signed-in person; the caller is none.")
        evaluation.subject = caller.subject_ref
        return "The signed-in person acts on their own data."
    reference = parse_reference(_presented(evaluation))
    if reference is None:
        if declared.required:
            raise RuleViolation(
                "SG-TOKEN-1",
                "Name the person by a VID or by your own pairwise token for them" + _where(declared),
                status=422,
            )
        return "No person reference was presented."
    evaluation.reference = reference
    if reference.type == "uin":
        if declared.required:
            raise RuleViolation(
                "SG-TOKEN-1",
                "The gateway does not take a UIN for this operation: present a VID or your pairwise token.",
            )
        return "A UIN is passed to the identity service, which alone may read it."
    evaluation.subject = await facts.resolve(caller, reference)
    return f"The presented {reference.type.replace('_', ' ')} identifies an enrolled person."


async def _further_people(evaluation: Evaluation, facts: Facts) -> None:
    """Person references beyond the subject (a batch of beneficiaries), each resolved to `sub`."""
    for pointer in evaluation.route.person_refs:
        for value in pointers.values(evaluation.body, pointer):
            found = parse_reference(value)
            if found is None or found.type == "uin":
                raise RuleViolation(
                    "SG-TOKEN-1", f"Name each person in {pointer} by a VID or your pairwise token.", status=422
                )
            if value not in evaluation.person_subs:
                evaluation.person_subs[value] = await facts.resolve(evaluation.caller, found)


def _presented(evaluation: Evaluation) -> Any:
    """What the caller presented for the subject: the X-Subject header, a body field or a query parameter."""
    declared = evaluation.route.subject
    if declared.source == "body":
        assert declared.pointer is not None
        return pointers.first(evaluation.body, declared.pointer)
    if declared.source == "query":
        return evaluation.query.get(declared.name or "")
    if declared.source == "path":
        return evaluation.path_params.get(declared.name or "")
    return evaluation.context.subject


def _where(declared: SubjectDeclaration) -> str:
    if declared.source == "body":
        return f" (in {declared.pointer})."
    if declared.source in ("query", "path"):
        return f" (the {declared.source} parameter {declared.name})."
    return " (X-Subject header)."


def parse_reference(value: Any) -> Reference | None:
    """A VID (16 digits, valid check digit), a pairwise token (`tok_...`), or identity's `{type, value}` object with
    one of those or a UIN; None for anything else (the route then answers 422, or lets the service judge)."""
    if isinstance(value, dict):
        kind, raw = value.get("type", "vid"), value.get("value")
        if not isinstance(raw, str):
            return None
        if kind == "uin":
            return Reference("uin", raw) if is_valid_uin(raw) else None
        found = parse_reference(raw)
        return found if found is not None and found.type == kind else None
    if not isinstance(value, str):
        return None
    if is_valid_vid(value):
        return Reference("vid", value)
    if PAIRWISE_TOKEN_PATTERN.fullmatch(value):
        return Reference("pairwise_token", value)
    return None


async def _purpose(evaluation: Evaluation, facts: Facts) -> str:
    route, code = evaluation.route, evaluation.context.purpose
    if code is None:
        if route.context.purpose == "required":
            raise RuleViolation("SG-PURPOSE-1", f"{route.summary} needs a purpose: state it in X-Purpose.")
        return "No purpose is stated or needed."
    purpose = await facts.purpose(code)
    if purpose is None:
        raise RuleViolation("SG-PURPOSE-1", f"The purpose {code} is not in the public purpose registry.")
    if not purpose.active:
        raise RuleViolation("SG-PURPOSE-1", f"The purpose {code} is {purpose.status}, not active.")
    caller = evaluation.caller
    if caller.kind == "organisation" and code not in caller.purposes:
        raise RuleViolation("SG-PURPOSE-1", f"The client {caller.client_id} is not approved for the purpose {code}.")
    evaluation.purpose = purpose
    return f"The purpose {code} is registered, active and approved for the client."


async def _legal_basis(evaluation: Evaluation, facts: Facts) -> str:
    route, context, caller = evaluation.route, evaluation.context, evaluation.caller
    basis = context.legal_basis or ("consent" if route.releases is not None else None)
    if context.court_order and basis != "court_order":
        raise RuleViolation("SG-LAWFUL-1", "X-Court-Order is stated only with X-Legal-Basis: court_order.")
    if basis == "court_order":
        if route.context.court_order == "forbidden":
            raise RuleViolation("SG-LAWFUL-1", f"{route.summary} is not released under a court order.")
        if not caller.has_role("law_enforcement"):
            raise RuleViolation("SG-LAWFUL-1", "Only a law-enforcement member acts under a court order.")
        if not context.court_order:
            raise RuleViolation("SG-LAWFUL-1", "A court-order basis needs the order's reference in X-Court-Order.")
        evaluation.legal_basis = "court_order"
        return f"Court order {context.court_order} is forwarded; the provider checks it against its order registry."
    if basis == "statute":
        purpose = evaluation.purpose
        if purpose is None:
            raise _NotEvaluated("A statute basis is checked against the purpose, which was not established.")
        statutes = [s.reference for s in purpose.statutes if caller.client_id in s.requesters]
        if not statutes:
            raise RuleViolation(
                "SG-LAWFUL-1",
                f"No statute listed for the purpose {purpose.code} empowers the client {caller.client_id}.",
            )
        evaluation.legal_basis = "statute"
        if route.releases is not None:
            evaluation.requested_items = requested_items(evaluation)
            evaluation.consented_items = tuple(i for i in evaluation.requested_items if i in purpose.allowed_items)
        return f"The purpose {purpose.code} rests on {', '.join(statutes)}, which names the client."
    evaluation.legal_basis = basis
    return "Consent is the basis; the consent service decides." if basis == "consent" else "No legal basis needed."


async def _consent(evaluation: Evaluation, facts: Facts) -> str:
    route, context = evaluation.route, evaluation.context
    if route.releases is None or evaluation.legal_basis not in (None, "consent"):
        return "No consent is needed on this basis." if route.releases else "The route releases no personal data."
    if evaluation.subject is None or evaluation.purpose is None:
        if evaluation.findings and any(f.outcome == "deny" for f in evaluation.findings):
            raise _NotEvaluated("Consent is asked for a known person and purpose, which were not established.")
        raise RuleViolation("SG-CONSENT-1", "Consent cannot be checked without a person and a purpose.")
    evaluation.requested_items = requested_items(evaluation)
    verdict = await facts.consent(
        requester=evaluation.caller.client_id,
        subject=evaluation.subject,
        purpose=evaluation.purpose.code,
        items=evaluation.requested_items,
        processing_location=evaluation.caller.processing_location,
        dry_run=evaluation.dry_run,
    )
    evaluation.consent = verdict
    if verdict.decision != "permit":
        raise RuleViolation(
            verdict.rule_id or "SG-CONSENT-1",
            verdict.detail or "No active consent covers this person, requester and purpose.",
            consent_decision_id=verdict.decision_id,
        )
    if context.consent_id and verdict.consent_id != context.consent_id:
        raise RuleViolation(
            "SG-CONSENT-1", f"The consent {context.consent_id} does not cover this person, requester and purpose."
        )
    allowed = set(evaluation.purpose.allowed_items)
    evaluation.consented_items = tuple(i for i in verdict.covered_items if i in allowed)
    evaluation.legal_basis = "consent"
    return f"Consent {verdict.consent_id} covers {', '.join(evaluation.consented_items) or 'no item'}."


def requested_items(evaluation: Evaluation) -> tuple[str, ...]:
    """The items the caller asks for, within what the route can release and the purpose allows (all of those if
    it names none)."""
    release = evaluation.route.releases
    assert release is not None
    allowed = evaluation.purpose.allowed_items if evaluation.purpose else ()
    possible = [item for item in release.items if item in allowed] if release.items is not None else allowed
    asked = pointers.first(evaluation.body, release.requested) if release.requested else None
    if isinstance(asked, list) and asked:
        return tuple(item for item in possible if item in asked)
    return tuple(possible)

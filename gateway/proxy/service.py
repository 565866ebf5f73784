"""Forwarding to the services, under the rules: the gateway's policy enforcement point.

For every request: find the route's declaration (undeclared: refused), authenticate the caller (before any body is
read), evaluate the route's rules (first denial wins; the provider is never called on a deny), translate the person
reference to `sub`, mint a 60-second assertion for exactly one audience carrying the decision, call the provider,
then on the answer: withhold it if it holds a UIN (502, SG-TOKEN-1), keep only consented ∩ purpose-allowed fields
(SG-MIN-1), rewrite every `sub` into the caller's pairwise token, strip the provider's disclosure headers into the
audit event, and append the decision. Every decision, permit or deny, is in the audit log before the caller hears.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog
from fastapi import Request
from starlette.responses import Response

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import current_caller
from gateway.proxy.errors import MethodNotAllowed, UnknownService, UpstreamUnavailable
from gateway.proxy.facts import UpstreamFacts
from gateway.proxy.facts import UpstreamUnavailable as FactUnavailable
from gateway.proxy.persons import PairwiseTokens, carries_uin, forwarded_body
from gateway.rules import pointers
from gateway.rules.catalogue import Catalogue
from gateway.rules.context import RequestContext
from gateway.rules.decisions import AuditSink, Decision, new_decision_id, record
from gateway.rules.engine import Evaluation, Finding, RuleEngine
from gateway.rules.routes import Match, Route, RouteTable
from services.common.assertion import ASSERTION_HEADER, AssertionMinter, CallContext
from services.common.http import DISCLOSE_AFTER_HEADER, FIELDS_RETURNED_HEADER, RemoteProblem
from services.common.problems import PROBLEM_MEDIA_TYPE, InvalidInput, PolicyDenied

log = structlog.get_logger("gateway.proxy")

FORWARDED_REQUEST_HEADERS = ("accept", "accept-language", "content-type", "idempotency-key")
ANONYMOUS_REQUEST_HEADERS = (*FORWARDED_REQUEST_HEADERS, "authorization", "dpop")
FORWARDED_RESPONSE_HEADERS = (
    "accept", "allow", "content-type", "cache-control", "location", "retry-after", "www-authenticate",
)  # fmt: skip
ANONYMOUS = AuthenticatedCaller(client_id="anonymous")


@dataclass
class Timings:
    """Where the gateway's time per request goes, stage by stage: wall time and this thread's CPU time (the
    benchmark reads them one request at a time, where the thread's CPU in a stage is that request's alone). Stage
    names only; nothing personal."""

    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    count: int = 0

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
            self.cpu[stage] = self.cpu.get(stage, 0.0) + time.thread_time() - cpu_started

    def reset(self) -> None:
        self.seconds.clear()
        self.cpu.clear()
        self.count = 0


@dataclass(frozen=True)
class Acted:
    """The answer to an operation the gateway performed on someone's behalf (`Proxy.act`)."""

    status: int
    content: bytes
    decision_id: str
    evaluation: Evaluation

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


class Proxy:
    def __init__(
        self,
        upstreams: dict[str, httpx.AsyncClient],
        minter: AssertionMinter,
        *,
        routes: RouteTable,
        catalogue: Catalogue,
        facts: UpstreamFacts,
        audit: AuditSink,
    ) -> None:
        self._upstreams = upstreams
        self._minter = minter
        self.routes = routes
        self.catalogue = catalogue
        self.engine = RuleEngine()
        self.facts = facts
        self.audit = audit
        self.tokens = PairwiseTokens(self._issue_token)
        self.timings = Timings()
        facts.timings = self.timings
        self.minimisation_violations = 0

    def client_for(self, service: str) -> httpx.AsyncClient:
        try:
            return self._upstreams[service]
        except KeyError:
            raise UnknownService(
                f"There is no service {service!r}; known services: {', '.join(sorted(self._upstreams))}."
            ) from None

    async def _issue_token(self, sub: str, client_id: str) -> str:
        read = await self.facts.identity.pairwise_token(sub, client_id, assertion=self.facts.assertion("identity"))
        return read.token

    # ---- the request -------------------------------------------------------------------------------------------

    async def forward(self, request: Request, service: str, path: str) -> Response:
        upstream = self.client_for(service)
        path = "/" + path
        match = self.routes.match(service, request.method, path)
        # Matched on the decoded path, forwarded as the caller encoded it: the service decodes it the same way.
        wire_path = _wire_path(request, service, path)
        if match is not None and match.route.access == "public":
            return await self._send(request, upstream, match.route, wire_path, headers={})
        if match is not None and match.route.access == "anonymous":
            return await self._forward_anonymous(request, upstream, match, wire_path)
        timings = self.timings
        with timings.measure("authentication"):
            caller = await current_caller(request)
        context = RequestContext.from_headers(request.headers)
        decision_id = new_decision_id()
        if match is None:
            allowed = self.routes.allowed_methods(service, path)
            if allowed:
                raise MethodNotAllowed(
                    f"{request.method} is not an operation of {service}{path}; allowed: {', '.join(allowed)}.",
                    headers={"Allow": ", ".join(allowed)},
                )
            finding = Finding("SG-SEC-1", "deny", f"{request.method} /{service}{path} is not a declared operation.")
            await self._deny(
                _request_id(request),
                f"{request.method} /{service}/(undeclared)",
                caller=caller,
                context=context,
                decision_id=decision_id,
                finding=finding,
            )
        assert match is not None
        route = match.route
        body_bytes = await request.body()
        body = _parse_body(body_bytes, request) if _needs_body(route) else None
        with timings.measure("rules"):
            evaluation = await self._evaluate(
                route, caller, context, body=body, query=dict(request.query_params), path_params=match.params
            )
        denial = evaluation.denial
        if denial is not None:
            await self._refuse(request, evaluation, decision_id, denial)
        if body is not None:
            body = forwarded_body(evaluation)
            body_bytes = json.dumps(body, separators=(",", ":")).encode("utf-8")
        wire_path = _forwarded_path(evaluation, wire_path)
        with timings.measure("assertion"):
            assertion = self._minter.mint(service, _assertion_context(evaluation, decision_id))
        try:
            with timings.measure("proxy"):
                upstream_response = await self._call(
                    upstream, request, route, wire_path, body=body_bytes, assertion=assertion,
                    params=_forwarded_query(request, evaluation),
                )  # fmt: skip
            return await self._answer(request, route, evaluation, decision_id, upstream_response)
        except UpstreamUnavailable as error:
            raise await self._unanswered(_request_id(request), route, evaluation, decision_id, error) from error

    async def _forward_anonymous(
        self, request: Request, upstream: httpx.AsyncClient, match: Match, path: str
    ) -> Response:
        """A route whose own protocol authenticates (the OIDC browser flow): no caller at the gateway, an assertion
        naming nobody, the Authorization header passed on, and the decision still recorded."""
        route = match.route
        context = RequestContext(channel="web")
        decision_id = new_decision_id()
        assertion = self._minter.mint(
            route.service, CallContext(client_id=ANONYMOUS.client_id, channel="web", decision_id=decision_id)
        )
        try:
            response = await self._send(
                request, upstream, route, path, headers={ASSERTION_HEADER: assertion}, names=ANONYMOUS_REQUEST_HEADERS
            )
        except UpstreamUnavailable as error:
            raise await self._unanswered(
                _request_id(request), route, None, decision_id, error, context=context
            ) from error
        await record(
            self.audit,
            Decision(
                decision_id, _action(route), None, context, "permit", response.status_code,
                request_id=_request_id(request),
            ),
        )  # fmt: skip
        return response

    async def _evaluate(
        self,
        route: Route,
        caller: AuthenticatedCaller,
        context: RequestContext,
        *,
        body: Any,
        query: dict[str, str] | None = None,
        path_params: dict[str, str] | None = None,
    ) -> Evaluation:
        try:
            return await self.engine.evaluate(
                route, caller, context, self.facts, body=body, query=query, path_params=path_params
            )
        except FactUnavailable as error:
            raise UpstreamUnavailable(
                f"The {error.service} service, which this decision depends on, did not answer."
            ) from None

    async def act(
        self,
        route_id: str,
        caller: AuthenticatedCaller,
        context: RequestContext,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> Acted:
        """One declared operation on behalf of a caller the gateway has established itself (a person confirmed on
        the assisted or the text-only channel): the same rules, assertion, answer checks and audit event as a
        forwarded request, without an HTTP request of the caller's to copy. A denial raises PolicyDenied."""
        route = self.routes.get(route_id)
        upstream = self.client_for(route.service)
        path = route.filled(params or {})
        decision_id = new_decision_id()
        evaluation = await self._evaluate(route, caller, context, body=body, path_params=params)
        denial = evaluation.denial
        if denial is not None:
            await self._deny(
                request_id, _action(route), caller=caller, context=context, decision_id=decision_id,
                finding=denial, evaluation=evaluation,
            )  # fmt: skip
        if body is not None:
            body = forwarded_body(evaluation)
        headers = {
            ASSERTION_HEADER: self._minter.mint(route.service, _assertion_context(evaluation, decision_id)),
            "x-request-id": request_id or "",
            "content-type": "application/json",
        }
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        try:
            try:
                response = await upstream.request(route.method, path, content=content, headers=headers)
            except httpx.HTTPError as error:
                raise UpstreamUnavailable(
                    f"The {route.service} service did not answer ({type(error).__name__})."
                ) from error
            if carries_uin(response.content):
                log.warning("egress.uin_withheld", route=route.id, client_id=caller.client_id, decision_id=decision_id)
                await self._deny(
                    request_id, _action(route), caller=caller, context=context, decision_id=decision_id,
                    finding=Finding("SG-TOKEN-1", "deny", _WITHHELD, 502), evaluation=evaluation,
                )  # fmt: skip
            answer = await self._pairwise(response.content, caller.client_id)
        except UpstreamUnavailable as error:
            raise await self._unanswered(request_id, route, evaluation, decision_id, error) from error
        await self._permitted(request_id, route, caller, context, evaluation, decision_id, response.status_code)
        return Acted(response.status_code, answer, decision_id, evaluation)

    async def _deny(
        self,
        request_id: str | None,
        action: str,
        *,
        caller: AuthenticatedCaller,
        context: RequestContext,
        decision_id: str,
        finding: Finding,
        evaluation: Evaluation | None = None,
    ) -> None:
        denial = self.denial(finding, decision_id)
        with self.timings.measure("audit append"):
            await record(
                self.audit,
                Decision(
                    decision_id, action, caller, context, "deny", denial.status, rule_ids=[finding.rule_id],
                    evaluation=evaluation, request_id=request_id,
                ),
            )  # fmt: skip
        raise denial

    async def _refuse(self, request: Request, evaluation: Evaluation, decision_id: str, finding: Finding) -> None:
        await self._deny(
            _request_id(request),
            _action(evaluation.route),
            caller=evaluation.caller,
            context=evaluation.context,
            decision_id=decision_id,
            finding=finding,
            evaluation=evaluation,
        )

    async def _pairwise(self, content: bytes, client_id: str) -> bytes:
        """The answer with every `sub` in it replaced by the caller's pairwise token (SG-TOKEN-1); if identity
        cannot issue one, the answer is not given (it would carry an internal `sub`)."""
        try:
            return await self.tokens.rewrite(content, client_id)
        except (RemoteProblem, httpx.HTTPError) as error:
            raise UpstreamUnavailable(
                f"The identity service did not issue the caller's pairwise token ({type(error).__name__}): "
                "the answer, which names a person, is withheld."
            ) from error

    async def _unanswered(
        self,
        request_id: str | None,
        route: Route,
        evaluation: Evaluation | None,
        decision_id: str,
        error: UpstreamUnavailable,
        *,
        context: RequestContext | None = None,
    ) -> UpstreamUnavailable:
        """A permitted request whose answer cannot be given (the service did not answer, or its answer could not be
        made fit to leave): the decision is recorded all the same, since the service may have acted on it, with
        the status the caller receives, and the problem names that audit event."""
        caller = evaluation.caller if evaluation else None
        if context is None:
            context = evaluation.context if evaluation else RequestContext()
        with self.timings.measure("audit append"):
            await self._permitted(request_id, route, caller, context, evaluation, decision_id, error.status)
        return UpstreamUnavailable(error.detail, audit_event_id=decision_id)

    async def _permitted(  # noqa: PLR0917 - the decision's parts, as Decision takes them
        self,
        request_id: str | None,
        route: Route,
        caller: AuthenticatedCaller | None,
        context: RequestContext,
        evaluation: Evaluation | None,
        decision_id: str,
        status: int,
    ) -> None:
        """Append a permitted request's decision, with the rules that permitted it and the status it ended in."""
        applied = [f.rule_id for f in evaluation.findings if f.outcome == "permit"] if evaluation else []
        await record(
            self.audit,
            Decision(
                decision_id, _action(route), caller, context, "permit", status, rule_ids=applied,
                evaluation=evaluation, request_id=request_id,
            ),
        )  # fmt: skip

    def denial(self, finding: Finding, decision_id: str) -> PolicyDenied:
        """The problem+json for a denial: the rule, its framework references, the grievance route, the event."""
        status = finding.status or self.catalogue.rule(finding.rule_id).http_status
        return PolicyDenied(
            finding.rule_id, finding.detail, audit_event_id=decision_id, status=status, **finding.extensions
        )

    async def _call(
        self,
        upstream: httpx.AsyncClient,
        request: Request,
        route: Route,
        path: str,
        *,
        body: bytes,
        assertion: str,
        params: list[tuple[str, str | int | float | bool | None]],
    ) -> httpx.Response:
        headers = {name: value for name in FORWARDED_REQUEST_HEADERS if (value := request.headers.get(name))}
        headers["x-request-id"] = _request_id(request) or ""
        headers[ASSERTION_HEADER] = assertion
        try:
            return await upstream.request(request.method, path, params=params, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(
                f"The {route.service} service did not answer ({type(error).__name__})."
            ) from error

    async def _send(
        self,
        request: Request,
        upstream: httpx.AsyncClient,
        route: Route,
        path: str,
        *,
        headers: dict[str, str],
        names: tuple[str, ...] = FORWARDED_REQUEST_HEADERS,
    ) -> Response:
        forwarded = {name: value for name in names if (value := request.headers.get(name))}
        forwarded["x-request-id"] = _request_id(request) or ""
        forwarded.update(headers)
        try:
            upstream_response = await upstream.request(
                request.method,
                path,
                params=list(request.query_params.multi_items()),
                content=await request.body(),
                headers=forwarded,
            )
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(
                f"The {route.service} service did not answer ({type(error).__name__})."
            ) from error
        if carries_uin(upstream_response.content):
            log.warning("egress.uin_withheld", route=route.id)
            decision_id = new_decision_id()
            finding = Finding("SG-TOKEN-1", "deny", _WITHHELD, 502)
            await record(
                self.audit,
                Decision(
                    decision_id, _action(route), None, RequestContext(), "deny", 502, rule_ids=["SG-TOKEN-1"],
                    request_id=_request_id(request),
                ),
            )  # fmt: skip
            raise self.denial(finding, decision_id)
        return Response(
            _problem_at(upstream_response, request.url.path),
            upstream_response.status_code,
            headers=_response_headers(upstream_response),
        )

    # ---- the answer --------------------------------------------------------------------------------------------

    async def _answer(
        self,
        request: Request,
        route: Route,
        evaluation: Evaluation,
        decision_id: str,
        upstream_response: httpx.Response,
    ) -> Response:
        caller, context = evaluation.caller, evaluation.context
        content = upstream_response.content
        if carries_uin(content) and not (route.may_carry_uin and caller.has_role("registrar")):
            log.warning("egress.uin_withheld", route=route.id, client_id=caller.client_id, decision_id=decision_id)
            finding = Finding("SG-TOKEN-1", "deny", _WITHHELD, 502)
            await self._refuse(request, evaluation, decision_id, finding)
        fields_header = upstream_response.headers.get(FIELDS_RETURNED_HEADER)
        fields_returned = [f.strip() for f in fields_header.split(",") if f.strip()] if fields_header else []
        disclose_after = _instant(upstream_response.headers.get(DISCLOSE_AFTER_HEADER))
        if route.releases is not None and upstream_response.is_success:
            content, minimised = self._minimise(route, evaluation, content)
            if minimised is not None:
                fields_returned = minimised
        with self.timings.measure("person references"):
            content = await self._pairwise(content, caller.client_id)
        applied = [f.rule_id for f in evaluation.findings if f.outcome == "permit"]
        with self.timings.measure("audit append"):
            await record(
                self.audit,
                Decision(
                    decision_id, _action(route), caller, context, "permit", upstream_response.status_code,
                    rule_ids=applied, evaluation=evaluation, fields_returned=fields_returned,
                    disclose_after=disclose_after, request_id=_request_id(request),
                ),
            )  # fmt: skip
        self.timings.count += 1
        headers = _response_headers(upstream_response)
        if content == upstream_response.content:
            content = _problem_at(upstream_response, request.url.path)
        return Response(content, upstream_response.status_code, headers=headers)

    def _minimise(self, route: Route, evaluation: Evaluation, content: bytes) -> tuple[bytes, list[str] | None]:
        """Keep only consented ∩ purpose-allowed items in the released record (SG-MIN-1); report what is left."""
        release = route.releases
        allowed = evaluation.allowed_fields
        if release is None or release.record is None or allowed is None:
            return content, None
        try:
            document = json.loads(content)
        except ValueError:
            return content, None
        record_value = pointers.first(document, release.record)
        if not isinstance(record_value, dict):
            return content, None
        extra = [key for key in record_value if key not in allowed]
        if extra:
            self.minimisation_violations += 1
            log.warning("minimisation.violation", route=route.id, dropped=len(extra))
            for key in extra:
                del record_value[key]
        return json.dumps(document, separators=(",", ":")).encode("utf-8"), sorted(record_value)


_WITHHELD = (
    "The provider's answer held a UIN, which never leaves the identity service; the answer was withheld and the "
    "attempt recorded."
)


def _wire_path(request: Request, service: str, path: str) -> str:
    raw: bytes | None = request.scope.get("raw_path")
    prefix = f"/{service}/".encode("ascii")
    if raw is not None and raw.startswith(prefix):
        return raw[len(prefix) - 1 :].decode("ascii", errors="replace")
    return path


def _forwarded_query(request: Request, evaluation: Evaluation) -> list[tuple[str, str | int | float | bool | None]]:
    """The query as the provider gets it: a person named in the query replaced by `sub`."""
    items: list[tuple[str, str | int | float | bool | None]] = list(request.query_params.multi_items())
    declared = evaluation.route.subject
    if declared.source != "query" or evaluation.subject is None:
        return items
    return [(name, evaluation.subject if name == declared.name else value) for name, value in items]


def _forwarded_path(evaluation: Evaluation, wire_path: str) -> str:
    """The path as the provider gets it: a person named in a path parameter replaced by `sub`."""
    declared = evaluation.route.subject
    if declared.source != "path" or evaluation.subject is None:
        return wire_path
    params = {**evaluation.path_params, str(declared.name): evaluation.subject}
    return evaluation.route.path_with(params)


def _needs_body(route: Route) -> bool:
    return (
        route.subject.source == "body"
        or bool(route.person_refs)
        or (route.releases is not None and route.releases.requested is not None)
    )


def _parse_body(raw: bytes, request: Request) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The request body is not valid JSON.") from None


def _assertion_context(evaluation: Evaluation, decision_id: str) -> CallContext:
    caller, context = evaluation.caller, evaluation.context
    consent = evaluation.consent
    return caller.context(
        subject_ref=evaluation.subject or caller.subject_ref,
        purpose=context.purpose,
        consent_id=consent.consent_id if consent else context.consent_id,
        consented_items=evaluation.consented_items,
        legal_basis=evaluation.legal_basis,
        channel=context.channel,
        assisted_by=context.assisted_by,
        decision_id=decision_id,
        court_order_id=context.court_order if evaluation.legal_basis == "court_order" else None,
        processing_location=caller.processing_location,
    )


def _problem_at(response: httpx.Response, path: str) -> bytes:
    """A service's problem+json with `instance` naming the path the caller used: the gateway's, not the service's."""
    content = response.content
    if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return content
    try:
        problem = json.loads(content)
    except ValueError:
        return content
    if not isinstance(problem, dict) or "instance" not in problem:
        return content
    problem["instance"] = path
    return json.dumps(problem, separators=(",", ":")).encode()


def _response_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name in FORWARDED_RESPONSE_HEADERS if (value := response.headers.get(name))}


def _action(route: Route) -> str:
    return f"{route.method} {route.gateway_path}"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

"""The governance routes' logic: the dry run evaluates every rule, calls no provider, and is itself recorded."""

from __future__ import annotations

from typing import Literal

from gateway.auth.caller import AuthenticatedCaller
from gateway.governance.schemas import DecideRequest, DecideResponse, RouteList, RouteRead, RuleOutcome
from gateway.proxy.facts import UpstreamUnavailable as FactUnavailable
from gateway.proxy.service import Proxy
from gateway.rules.context import RequestContext
from gateway.rules.decisions import Decision, new_decision_id, record
from gateway.rules.engine import Evaluation, Finding, RuleEngine
from gateway.rules.routes import Route
from services.common.problems import ServiceUnavailable


class GovernanceService:
    async def decide(
        self, proxy: Proxy, caller: AuthenticatedCaller, body: DecideRequest, *, request_id: str | None
    ) -> DecideResponse:
        """Would this request be allowed, and if not, by which rules and why: every rule, not only the first."""
        context = RequestContext.from_values(body.model_dump(exclude={"method", "path", "body"}))
        service, _, rest = body.path[1:].partition("/")
        match = proxy.routes.match(service, body.method, "/" + rest)
        decision_id = new_decision_id()
        if match is None or match.route.access != "authenticated":
            findings = (
                [Finding("SG-SEC-1", "deny", f"{body.method} {body.path} is not a declared operation.", 403)]
                if match is None
                else [Finding("SG-SEC-1", "permit", f"{match.route.summary} is {match.route.access}: no rule applies.")]
            )
            known = service if service in proxy.routes.services else "(unknown)"
            action = f"{body.method} /{known}/(undeclared)" if match is None else _action(match.route)
            return await self._answer(
                proxy, caller, context, action=action, route=match.route if match else None, findings=findings,
                decision_id=decision_id, request_id=request_id,
            )  # fmt: skip
        try:
            evaluation = await proxy.engine.evaluate(
                match.route, caller, context, proxy.facts, body=body.body, path_params=match.params, exhaustive=True
            )
        except FactUnavailable as error:
            raise ServiceUnavailable(
                f"The {error.service} service, which the decision depends on, did not answer."
            ) from None
        return await self._answer(
            proxy, caller, context, action=_action(match.route), route=match.route, findings=evaluation.findings,
            decision_id=decision_id, request_id=request_id, evaluation=evaluation,
        )  # fmt: skip

    async def _answer(
        self,
        proxy: Proxy,
        caller: AuthenticatedCaller,
        context: RequestContext,
        *,
        action: str,
        route: Route | None,
        findings: list[Finding],
        decision_id: str,
        request_id: str | None,
        evaluation: Evaluation | None = None,
    ) -> DecideResponse:
        denied_by = [f.rule_id for f in findings if f.outcome == "deny"]
        outcomes = [self._outcome(proxy, f) for f in findings]
        first = next((o for o in outcomes if o.outcome == "deny"), None)
        decision: Literal["permit", "deny"] = "deny" if denied_by else "permit"
        status = (first.status or 403) if first else 200
        await record(
            proxy.audit,
            Decision(
                decision_id, action, caller, context, decision, status,
                rule_ids=denied_by, evaluation=evaluation, dry_run=True, request_id=request_id,
            ),
        )  # fmt: skip
        return DecideResponse(
            allowed=not denied_by,
            decision=decision,
            route_id=route.id if route else None,
            denied_by=denied_by,
            rules=outcomes,
            audit_event_id=decision_id,
        )

    @staticmethod
    def _outcome(proxy: Proxy, finding: Finding) -> RuleOutcome:
        try:
            rule = proxy.catalogue.rule(finding.rule_id)
        except KeyError:
            return RuleOutcome(rule_id=finding.rule_id, outcome=finding.outcome, detail=finding.detail)
        status = (finding.status or rule.http_status) if finding.outcome == "deny" else None
        return RuleOutcome(
            rule_id=rule.id, title=rule.title, outcome=finding.outcome, detail=finding.detail, status=status,
            framework_refs=list(rule.framework_refs),
        )  # fmt: skip

    def routes(self, proxy: Proxy) -> RouteList:
        return RouteList(roles=list(proxy.routes.roles), routes=[_route_read(r) for r in proxy.routes])


def _route_read(route: Route) -> RouteRead:
    guards = RuleEngine.guards(route)
    return RouteRead(
        id=route.id,
        method=route.method,
        path=route.gateway_path,
        summary=route.summary,
        access=route.access,
        roles=list(route.roles),
        rules=[*guards, *(r for r in route.rules if r not in guards)],
        context={k: v for k, v in route.context.model_dump().items() if v != "forbidden"},
        releases=list(route.releases.items or ()) if route.releases else None,
    )


def _action(route: Route) -> str:
    return f"{route.method} {route.gateway_path}"


governance = GovernanceService()

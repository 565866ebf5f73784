"""What the rule engine needs to know, asked of the services that know it: who a person reference is (identity),
what a purpose allows (consent's purpose registry) and whether consent covers a use (consent's decisions).

The gateway calls them with its own assertion (client `dpi-gateway`): role `gateway_internal` at identity, role
`gateway` at consent. Purposes are cached for a few seconds on the gateway's clock (a suspension takes effect within
that time); person resolutions and consent decisions are never cached, so a revoked VID or consent is refused at once.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from gateway.auth.caller import AuthenticatedCaller
from gateway.rules.engine import ConsentVerdict, PurposeInfo, Reference, RuleViolation, StatuteInfo
from services.common.assertion import AssertionMinter, CallContext
from services.common.http import RemoteProblem
from services.consent.client import ConsentClient, DecisionRequest
from services.identity.client import IdentityClient, ReferenceType, SubjectReference

GATEWAY_CLIENT_ID = "dpi-gateway"
GATEWAY_ROLES = {"identity": ("gateway_internal",), "consent": ("gateway",)}


def _unreachable(service: str) -> httpx.AsyncClient:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"no {service} service is configured", request=request)

    return httpx.AsyncClient(base_url=f"http://{service}", transport=httpx.MockTransport(refuse))


class UpstreamUnavailable(Exception):
    """A service the decision depends on did not answer: the request is refused (502), never waved through."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


@dataclass
class _Cached:
    value: PurposeInfo | None
    until: float


class UpstreamFacts:
    def __init__(
        self,
        *,
        identity: httpx.AsyncClient | None,
        consent: httpx.AsyncClient | None,
        minter: AssertionMinter,
        purpose_ttl_seconds: float = 5.0,
    ) -> None:
        # A gateway may run without some services (a test of one part): a decision that needs one then fails
        # closed with 502, as if it did not answer.
        self._identity = IdentityClient(identity or _unreachable("identity"))
        self._consent = ConsentClient(consent or _unreachable("consent"))
        self._minter = minter
        self._purpose_ttl = purpose_ttl_seconds
        self._purposes: dict[str, _Cached] = {}
        self.timings: Any = None  # the proxy's stage timings (gateway.proxy.service.Timings)

    def _measure(self, stage: str) -> Any:
        return self.timings.measure(stage) if self.timings is not None else contextlib.nullcontext()

    def assertion(self, service: str) -> str:
        """The gateway's own assertion for one call to `service`."""
        return self._minter.mint(service, CallContext(client_id=GATEWAY_CLIENT_ID, roles=GATEWAY_ROLES[service]))

    @property
    def identity(self) -> IdentityClient:
        return self._identity

    async def resolve(self, caller: AuthenticatedCaller, reference: Reference) -> str:
        if reference.type == "vid":
            body = SubjectReference(type=ReferenceType.vid, value=reference.value)
        else:
            body = SubjectReference(
                type=ReferenceType.pairwise_token, relying_party_id=caller.client_id, value=reference.value
            )
        try:
            with self._measure("person resolution"):
                resolution = await self._identity.resolve_subject(body, assertion=self.assertion("identity"))
            return resolution.sub
        except RemoteProblem as problem:
            if problem.status in (401, 403, 404, 422):
                raise RuleViolation(
                    "SG-TOKEN-1",
                    str(problem.body.get("detail") or "The reference identifies no enrolled person."),
                    status=401,
                    upstream_code=problem.body.get("code"),
                ) from None
            raise UpstreamUnavailable("identity", f"status {problem.status}") from None
        except httpx.HTTPError as error:
            raise UpstreamUnavailable("identity", type(error).__name__) from error

    async def purpose(self, code: str) -> PurposeInfo | None:
        now = time.monotonic()
        cached = self._purposes.get(code)
        if cached is not None and cached.until > now:
            return cached.value
        with self._measure("purpose registry"):
            value = await self._fetch_purpose(code)
        self._purposes[code] = _Cached(value, now + self._purpose_ttl)
        return value

    def forget_purposes(self) -> None:
        """Drop the cached purposes (an operator who changed the registry need not wait out the cache)."""
        self._purposes.clear()

    async def _fetch_purpose(self, code: str) -> PurposeInfo | None:
        try:
            purpose = await self._consent.purpose(code, assertion=self.assertion("consent"))
        except RemoteProblem as problem:
            if problem.status in (404, 422):  # unknown, or not even shaped like a registry code
                return None
            raise UpstreamUnavailable("consent", f"status {problem.status}") from None
        except (httpx.HTTPError, ValidationError) as error:
            raise UpstreamUnavailable("consent", type(error).__name__) from error
        return PurposeInfo(
            code=purpose.code,
            status=str(purpose.status),
            allowed_items=tuple(purpose.allowed_items),
            statutes=tuple(StatuteInfo(s.reference, tuple(s.requesters)) for s in purpose.statutes),
            legal_basis=str(purpose.legal_basis),
        )

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
        try:
            question = DecisionRequest(
                requester=requester,
                subject=subject,
                purpose=purpose,
                items=list(items),
                processing_location=processing_location,
                dry_run=dry_run,
            )
        except ValidationError:
            raise RuleViolation(
                "SG-CONSENT-1", "The use cannot be put to the consent service as stated (items, purpose).", status=422
            ) from None
        try:
            with self._measure("consent call"):
                answer = await self._consent.decide(question, assertion=self.assertion("consent"))
        except RemoteProblem as problem:
            raise UpstreamUnavailable("consent", f"status {problem.status}") from None
        except (httpx.HTTPError, ValidationError) as error:
            raise UpstreamUnavailable("consent", type(error).__name__) from error
        return ConsentVerdict(
            decision=answer.decision,
            decision_id=answer.decision_id,
            consent_id=answer.consent_id,
            covered_items=tuple(answer.covered_items),
            legal_basis=answer.legal_basis,
            rule_id=answer.rule_id,
            detail=answer.detail,
            valid_until=answer.valid_until,
        )

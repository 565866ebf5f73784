"""What a person can do on a channel other than their own app (SG-INCL-3): the assisted desk and the text-only
(USSD/SMS) menu both come here, so the same rights work the same way whoever carries them.

First the person confirms, with their own PIN or one-time code, checked by the identity service through the
gateway's own route (`identity.authenticate`), and identity records the attempt in the person's auth history with the
channel and the operator. At an assisted desk the operator's client names the person by VID and presents identity's
`assisted` factor carrying the person's confirmation (the operator must be named, SG-INCL-3); on the text channel the
gateway resolves the VID and asks as the person's own app would (role `subject`), with the aggregator's client. Then
the gateway acts for the confirmed person as their own app would (role `subject`, their `sub`), through the same rule
engine, assertion and audit event as any forwarded request, with the channel, the operator (`assisted_by`) and the
confirmation (factor and identity's auth transaction id) in every audit event. Actions the gateway serves itself (the
access log, grievances) are recorded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.schemas import SubjectAccessLog
from gateway.auth.caller import AuthenticatedCaller
from gateway.oversight.grievances.schemas import GrievanceCreate, GrievanceRead
from gateway.oversight.grievances.service import grievance as grievance_service
from gateway.proxy.errors import UpstreamUnavailable
from gateway.proxy.facts import UpstreamUnavailable as FactUnavailable
from gateway.proxy.service import Acted, Proxy
from gateway.rules.context import RequestContext
from gateway.rules.decisions import Decision, new_decision_id, record
from gateway.rules.engine import Finding, Reference, RuleViolation
from services.common.assertion import Channel

ConfirmingFactor = Literal["otp", "pin"]
VID_ACTION = "POST /channels/(person by VID)"


@dataclass(frozen=True)
class Confirmed:
    """A person who confirmed on a channel: who they are (`sub`, never shown), how they confirmed, and who helps."""

    sub: str
    caller: AuthenticatedCaller  # the gateway acting as the person's own app would, from the channel's client
    context: RequestContext  # channel, assisted_by and the confirmation, for every event that follows


@dataclass(frozen=True)
class Refused:
    """The identity service did not confirm the person (or the gateway refused): its status and problem body."""

    acted: Acted


class PersonChannel:
    """The person's rights on one channel, acting through the gateway's proxy (rules, assertion, audit)."""

    def __init__(self, app: FastAPI, channel: Channel) -> None:
        self._app = app
        self.channel = channel

    @property
    def proxy(self) -> Proxy:
        proxy: Proxy = self._app.state.proxy
        return proxy

    async def send_otp(self, actor: AuthenticatedCaller, vid: str, *, assisted_by: str | None) -> Acted:
        """Ask identity to send the person a one-time code, bound to the channel's client (who must then use it):
        at an operator's request on the assisted channel, as the person's own request on the text channel."""
        context = RequestContext(channel=self.channel, assisted_by=assisted_by)
        if self.channel == "assisted":
            body = {"individual": {"type": "vid", "value": vid}}
            return await self.proxy.act("identity.otp_send", actor, context, body=body)
        person = await self._named(actor, vid, context)
        return await self.proxy.act("identity.otp_send", person, context, body={})

    async def confirm(
        self,
        actor: AuthenticatedCaller,
        vid: str,
        factor: ConfirmingFactor,
        secret: str,
        *,
        assisted_by: str | None,
    ) -> Confirmed | Refused:
        """The person confirms with their own OTP or PIN. On the assisted channel it is identity's `assisted`
        factor, asked by the operator, which needs the operator named (SG-INCL-3); on the text channel it is the
        person's own factor, as from their own app. A wrong secret counts towards identity's attempt limits; a VID
        nobody holds is refused under SG-TOKEN-1 (PolicyDenied), recorded like any denial."""
        own: dict[str, Any] = {"type": factor, factor: secret}
        context = RequestContext(channel=self.channel, assisted_by=assisted_by)
        if self.channel == "assisted":
            body = {"individual": {"type": "vid", "value": vid}, "factor": {"type": "assisted", "confirmation": own}}
            acted = await self.proxy.act("identity.authenticate", actor, context, body=body)
        else:
            person = await self._named(actor, vid, context)
            acted = await self.proxy.act("identity.authenticate", person, context, body={"factor": own})
        sub = acted.evaluation.subject
        if not acted.ok or sub is None:
            return Refused(acted)
        return self.resume(actor, sub, f"{factor}:{acted.json()['transaction_id']}", assisted_by=assisted_by)

    async def _named(self, actor: AuthenticatedCaller, vid: str, context: RequestContext) -> AuthenticatedCaller:
        """The person a VID names, as the gateway acts for them (not yet confirmed: only to ask identity)."""
        try:
            sub = await self.proxy.facts.resolve(actor, Reference("vid", vid))
        except RuleViolation as violation:
            decision_id = new_decision_id()
            finding = Finding(violation.rule_id, "deny", violation.detail, violation.status)
            await record(
                self._app.state.audit,
                Decision(decision_id, VID_ACTION, actor, context, "deny", violation.status or 401, [violation.rule_id]),
            )
            raise self.proxy.denial(finding, decision_id) from None
        except FactUnavailable as error:
            raise UpstreamUnavailable(f"The {error.service} service did not answer.") from None
        return self._as_person(actor, sub)

    @staticmethod
    def _as_person(actor: AuthenticatedCaller, sub: str) -> AuthenticatedCaller:
        return AuthenticatedCaller(client_id=actor.client_id, kind="citizen", roles=("subject",), subject_ref=sub)

    def resume(
        self, actor: AuthenticatedCaller, sub: str, confirmation: str, *, assisted_by: str | None = None
    ) -> Confirmed:
        """The person as confirmed earlier in the same channel session (`confirmation`: factor and transaction)."""
        context = RequestContext(channel=self.channel, assisted_by=assisted_by, confirmation=confirmation)
        return Confirmed(sub=sub, caller=self._as_person(actor, sub), context=context)

    # ---- the person's rights, once confirmed ----------------------------------------------------------------

    async def consents(self, person: Confirmed) -> Acted:
        return await self.proxy.act("consent.my_consents", person.caller, person.context)

    async def revoke_consent(self, person: Confirmed, consent_id: str) -> Acted:
        return await self.proxy.act(
            "consent.my_consent_revoke", person.caller, person.context, params={"consent_id": consent_id}
        )

    async def request_correction(self, person: Confirmed, correction: dict[str, Any]) -> Acted:
        return await self.proxy.act("identity.correction_request", person.caller, person.context, body=correction)

    async def access_log(self, person: Confirmed, action: str) -> SubjectAccessLog:
        """Who accessed the person's data (SG-ACCESS-1), read for them on this channel; the reading is recorded."""
        view: SubjectAccessLog = await self._app.state.audit.entries_for_subject(
            person.sub, self._app.state.clock.now()
        )
        await self._record(person, action, 200, ("SG-SEC-1", "SG-INCL-3", "SG-ACCESS-1"))
        return view

    async def file_grievance(self, person: Confirmed, grievance: GrievanceCreate, action: str) -> GrievanceRead:
        """A grievance filed for the person on this channel (SG-GRIEV-1); the operator is on the ticket too. The
        ticket is committed before the event is recorded (the audit log's writer takes its own connection)."""
        body = grievance.model_copy(update={"channel": self.channel})
        session: AsyncSession
        async with self._app.state.sessionmaker() as session, session.begin():
            filed = await grievance_service.file(
                session, person.caller, body, assisted_by=person.context.assisted_by, rt=self._app.state.grievances
            )
        await self._record(person, action, 201, ("SG-SEC-1", "SG-INCL-3", "SG-GRIEV-1"))
        return filed

    async def _record(self, person: Confirmed, action: str, status: int, rule_ids: tuple[str, ...]) -> None:
        await record(
            self._app.state.audit,
            Decision(new_decision_id(), action, person.caller, person.context, "permit", status, rule_ids=rule_ids),
        )

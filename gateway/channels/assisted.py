"""The assisted channel (SG-INCL-3): an operator at a desk acts for a person who has no phone app, or needs help,
with the person's own confirmation. The operator's client holds `assisted_operator`; the person types their PIN, or
the one-time code sent to their phone, and identity checks it. Every audit event names the channel, the operator and
the confirmation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.audit.schemas import SubjectAccessLog
from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import require_roles
from gateway.channels.errors import ServiceRefused, refusal
from gateway.channels.people import Confirmed, PersonChannel
from gateway.channels.schemas import (
    AssistedAnswer,
    AssistedCorrection,
    AssistedGrievance,
    AssistedRequest,
    AssistedRevocation,
    OtpFor,
    OtpSent,
)
from gateway.oversight.grievances.schemas import GrievanceRead
from gateway.proxy.errors import UpstreamUnavailable
from gateway.proxy.service import Acted
from services.common.problems import InvalidInput, PolicyDenied, Unauthenticated, problem_responses

router = APIRouter(prefix="/channels/assisted", tags=["channels"])

Operator = Annotated[AuthenticatedCaller, Depends(require_roles("assisted_operator"))]
ERRORS = problem_responses(Unauthenticated, PolicyDenied, InvalidInput, ServiceRefused, UpstreamUnavailable)
_CONFIRMS = (
    " The person confirms with their own PIN or the one-time code sent to their phone (POST /channels/assisted/otp); "
    "identity checks it and records the attempt with the operator. The audit event names the channel (`assisted`), "
    "the operator (`assisted_by`) and the confirmation."
)


def desk(request: Request) -> PersonChannel:
    return PersonChannel(request.app, "assisted")


Desk = Annotated[PersonChannel, Depends(desk)]


def _operator(operator: AuthenticatedCaller, operator_id: str) -> str:
    return f"{operator.client_id}:{operator_id}"


async def _confirm(channel: PersonChannel, operator: AuthenticatedCaller, body: AssistedRequest) -> Confirmed:
    confirmed = await channel.confirm(
        operator,
        body.person.vid,
        body.person.confirmation.type,
        body.person.confirmation.code,
        assisted_by=_operator(operator, body.operator_id),
    )
    if not isinstance(confirmed, Confirmed):
        raise refusal(confirmed.acted)
    return confirmed


def _answer(person: Confirmed, acted: Acted) -> AssistedAnswer:
    if not acted.ok:
        raise refusal(acted)
    return AssistedAnswer(
        assisted_by=person.context.assisted_by or "",
        confirmation=person.context.confirmation or "",
        result=acted.json(),
    )


@router.post(
    "/otp",
    status_code=202,
    summary="Send the person a one-time code to confirm with (assisted operator)",
    description="The code goes to the phone (else e-mail) on the person's record, and only this desk's client can "
    "use it. Recorded with the channel and the operator.",
    response_model=OtpSent,
    responses=ERRORS,
)
async def send_otp(body: OtpFor, operator: Operator, channel: Desk) -> OtpSent:
    acted = await channel.send_otp(operator, body.vid, assisted_by=_operator(operator, body.operator_id))
    if not acted.ok:
        raise refusal(acted)
    sent = acted.json()
    return OtpSent(destination=sent["destination"], expires_at=sent["expires_at"])


@router.post(
    "/consents",
    summary="The person's consents, read for them (assisted operator)",
    description="As GET /me/consents." + _CONFIRMS,
    response_model=AssistedAnswer,
    responses=ERRORS,
)
async def consents(body: AssistedRequest, operator: Operator, channel: Desk) -> AssistedAnswer:
    person = await _confirm(channel, operator, body)
    return _answer(person, await channel.consents(person))


@router.post(
    "/consent-revocations",
    summary="Revoke one of the person's consents for them (assisted operator)",
    description="As POST /me/consents/{consent_id}/revoke (SG-CONSENT-4)." + _CONFIRMS,
    response_model=AssistedAnswer,
    responses=ERRORS,
)
async def revoke_consent(body: AssistedRevocation, operator: Operator, channel: Desk) -> AssistedAnswer:
    person = await _confirm(channel, operator, body)
    return _answer(person, await channel.revoke_consent(person, body.consent_id))


@router.post(
    "/access-log",
    summary="Who accessed the person's data, read for them (assisted operator)",
    description="As GET /me/access-log (SG-ACCESS-1), each entry with its inclusion proof." + _CONFIRMS,
    response_model=SubjectAccessLog,
    responses=ERRORS,
)
async def access_log(body: AssistedRequest, operator: Operator, channel: Desk) -> SubjectAccessLog:
    person = await _confirm(channel, operator, body)
    return await channel.access_log(person, "POST /channels/assisted/access-log")


@router.post(
    "/grievances",
    status_code=201,
    summary="File a grievance for the person (assisted operator)",
    description="As POST /me/grievances (SG-GRIEV-1); the ticket says `assisted` and names the operator." + _CONFIRMS,
    response_model=GrievanceRead,
    responses=ERRORS,
)
async def file_grievance(body: AssistedGrievance, operator: Operator, channel: Desk) -> GrievanceRead:
    person = await _confirm(channel, operator, body)
    return await channel.file_grievance(person, body.grievance, "POST /channels/assisted/grievances")


@router.post(
    "/corrections",
    status_code=201,
    summary="Ask for a correction of the person's identity data for them (assisted operator)",
    description="As POST /me/corrections: a tracked case with its time limit." + _CONFIRMS,
    response_model=AssistedAnswer,
    responses=ERRORS,
)
async def request_correction(body: AssistedCorrection, operator: Operator, channel: Desk) -> AssistedAnswer:
    person = await _confirm(channel, operator, body)
    return _answer(person, await channel.request_correction(person, body.correction.model_dump()))

"""`POST /channels/ussd`: the callback a USSD aggregator posts on every step of a person's session."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import require_roles
from gateway.channels.ussd.schemas import UssdCallback
from gateway.channels.ussd.service import respond
from gateway.proxy.errors import UpstreamUnavailable
from services.common.problems import InvalidInput, PolicyDenied, Unauthenticated, problem_responses

router = APIRouter(prefix="/channels", tags=["channels"])

Aggregator = Annotated[AuthenticatedCaller, Depends(require_roles("text_channel"))]
_FORM = "application/x-www-form-urlencoded"


@router.post(
    "/ussd",
    summary="A step of a person's USSD session (USSD aggregators)",
    description="SG-INCL-3, the text-only channel. The aggregator (a registered client with the `text_channel` role) "
    "posts `sessionId`, `phoneNumber`, `serviceCode` and `text` (every input so far, joined by `*`) as a form, as "
    "Africa's Talking does, or as JSON; the answer is `CON <screen>` (wait for an input) or `END <screen>`, at most "
    "160 characters, in the language the person picked. A person revokes a consent, reads who used their data, files "
    "a complaint or asks for a correction, confirming with their PIN or a code sent by SMS; every audit event says "
    "channel `ussd`. A session idle longer than `ussd_session_timeout_seconds` ends.",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "example": "CON DPI services\n1 Revoke"}}}},
        **problem_responses(Unauthenticated, PolicyDenied, InvalidInput, UpstreamUnavailable),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {"schema": UssdCallback.model_json_schema(by_alias=True)},
                "application/json": {"schema": UssdCallback.model_json_schema(by_alias=True)},
            },
        }
    },
)
async def ussd_step(request: Request, aggregator: Aggregator) -> PlainTextResponse:
    screen = await respond(request.app, aggregator, _callback(await request.body(), request))
    return PlainTextResponse(str(screen))


def _callback(raw: bytes, request: Request) -> UssdCallback:
    fields: Any
    try:
        if request.headers.get("content-type", "").startswith(_FORM):
            fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        else:
            fields = json.loads(raw or b"{}")
        return UssdCallback.model_validate(fields)
    except (UnicodeDecodeError, ValueError, ValidationError) as error:
        problem = InvalidInput("Post sessionId, phoneNumber and text, as a form or as JSON.")
        raise problem from error
